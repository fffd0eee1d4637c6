"""Hand a points award off to the worker and answer at once: the caller never waits for the work.

The award is validated here (a bad one gets 400 and is never handed off), then sent with
``InvocationType=Event``: Lambda queues it, answers 202, and from then on owns the retries and the
failure destination. Event ``{"order_id", "customer_id", "points"}``; answer
``{"statusCode": 202, "accepted": "<order_id>"}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from award import AWARD
from shared.observability import instrument, logger, metrics
from shared.validation import InvalidInput

WORKER_FUNCTION = os.environ["WORKER_FUNCTION_NAME"]
lambda_client = boto3.client("lambda")


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        award = AWARD.validate(event)
    except InvalidInput as error:
        logger.info("award refused", extra={"reason": str(error)})
        return {"statusCode": 400, "error": {"code": "InvalidAward", "message": str(error)}}
    try:
        lambda_client.invoke(
            FunctionName=WORKER_FUNCTION, InvocationType="Event", Payload=json.dumps(award).encode()
        )
    except (ClientError, BotoCoreError) as error:  # refused, unreachable or no answer in time
        # Not known to be queued, so the caller must retry (the worker applies an order once); say so, without AWS's details.
        logger.error("handoff failed", extra={"order_id": award["order_id"], "reason": str(error)})
        return {"statusCode": 503, "error": {"code": "HandoffFailed", "message": "not accepted; retry later"}}
    metrics.add_metric(name="AwardsHandedOff", unit=MetricUnit.Count, value=1)
    return {"statusCode": 202, "accepted": award["order_id"]}
