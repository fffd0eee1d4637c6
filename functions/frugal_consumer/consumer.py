"""Hand queued orders to the less scalable store, a batch per call; what it throttles goes back.

The event source feeds at most two batches at once (its maximum concurrency) and waits up to its
batching window for a fuller batch, so the store sees few, full calls: that is the consumer's pace.
Each batch's valid orders go to the store in one synchronous call; the store answers which it
stored and which it throttled. Powertools' ``BatchProcessor`` then reports as failed (partial batch
response) every order the store throttled or did not answer for, so only those return to the queue,
after its visibility timeout, and are tried again. A message that is not a valid order fails every
time it is received and, after the queue's ``maxReceiveCount``, moves to the dead-letter queue.
A store that fails as a whole (a function error) fails every valid order of the batch.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema, parse_json_body

STORE_FUNCTION = os.environ["STORE_FUNCTION"]
lambda_client = boto3.client("lambda")
# A batch whose every order failed is reported as such, not raised: a function error would make
# Lambda's poller back off, and the store's throttle is no reason to.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)  # type: ignore[arg-type]

#: An order as producers send it (the body of each message).
ORDER = Schema(
    id=Field(str, min_length=1, max_length=64),
    customer=Field(str, min_length=1, max_length=64),
    total_cents=Field(int, minimum=0, maximum=10**12),
)
#: Ids the store takes: letters, digits and ``_ - . :`` (never its own ``#`` keys).
ID = re.compile(r"[A-Za-z0-9_.:-]+")


class StoreThrottled(Exception):
    """The store was at its rate: the order returns to the queue and is tried again later."""


class NotStored(Exception):
    """The store failed or did not answer for the order: it returns to the queue."""


def parse_order(body: str) -> dict[str, Any]:
    """The order in a message body, or :class:`InvalidInput` naming each bad field."""
    order = ORDER.validate(parse_json_body(body))
    if not ID.fullmatch(order["id"]):
        raise InvalidInput("id: only letters, digits and _ - . : are allowed")
    return order


def write(orders: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Send ``orders`` to the store in one call: the ids it stored, and those it throttled."""
    response = lambda_client.invoke(
        FunctionName=STORE_FUNCTION, Payload=json.dumps({"writes": orders}).encode()
    )
    answer = json.loads(response["Payload"].read())
    if "FunctionError" in response:
        logger.error("store failed", extra={"error": answer})
        return set(), set()
    return set(answer["stored"]), set(answer["throttled"])


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    orders: dict[str, dict[str, Any]] = {}
    problems: dict[str, InvalidInput] = {}
    for record in event["Records"]:
        try:
            orders[record["messageId"]] = parse_order(record["body"])
        except InvalidInput as problem:
            problems[record["messageId"]] = problem
    unique = list({order["id"]: order for order in orders.values()}.values())
    stored, throttled = write(unique) if unique else (set(), set())
    if throttled:
        metrics.add_metric(name="OrdersThrottled", unit=MetricUnit.Count, value=len(throttled))

    def settle(record: SQSRecord) -> None:
        if record.message_id in problems:
            raise problems[record.message_id]
        order_id = orders[record.message_id]["id"]
        if order_id in throttled:
            raise StoreThrottled(f"{order_id}: the store is at its rate; tried again later")
        if order_id not in stored:
            raise NotStored(f"{order_id}: the store did not store it")

    return process_partial_response(event=event, record_handler=settle, processor=processor, context=context)
