"""The saga's front door: ``POST /orders`` starts an order's saga, ``GET /orders/{order_id}`` polls it.

An order that breaks its schema is a 400 naming every field at fault, and no workflow starts. A
valid one gets a new order id, which names its Standard execution (so the id finds it again, and
a name is never reused), and a 202 with the id and where to poll. The poll answers from the
execution itself: ``processing`` while it runs, ``confirmed``, ``cancelled`` with the reason (the error of the
step that failed, its steps undone), or ``failed`` when a compensation gave up (an operator's case). This function touches no table.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from saga_order import ORDER
from shared.http import NotFound, Router, validated_body
from shared.observability import instrument, metrics

STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]
#: ``arn:aws:states:<region>:<account>:execution:<machine>:`` + the order id is its execution's ARN.
EXECUTION_PREFIX = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:", 1) + ":"
ORDER_ID = re.compile(r"o-[0-9a-f]{32}")
STATUS = {"RUNNING": "processing", "SUCCEEDED": "confirmed"}

states = boto3.client("stepfunctions")
app = Router()


@app.post("/orders")
def place_order() -> tuple[dict[str, Any], int]:
    order = validated_body(app, ORDER)
    order_id = f"o-{uuid.uuid4().hex}"
    states.start_execution(
        stateMachineArn=STATE_MACHINE_ARN,
        name=order_id,
        input=json.dumps({"order": {"order_id": order_id, **order}}),
    )
    metrics.add_metric(name="SagasStarted", unit=MetricUnit.Count, value=1)
    return {"order_id": order_id, "status": "processing", "poll": f"/orders/{order_id}"}, 202


@app.get("/orders/<order_id>")
def order_status(order_id: str) -> dict[str, Any]:
    if not ORDER_ID.fullmatch(order_id):
        raise NotFound(f"order {order_id[:40]} not found")
    try:
        execution = states.describe_execution(executionArn=EXECUTION_PREFIX + order_id)
    except states.exceptions.ExecutionDoesNotExist:
        raise NotFound(f"order {order_id} not found") from None
    if execution["status"] in STATUS:
        return {"order_id": order_id, "status": STATUS[execution["status"]]}
    if execution.get("error") == "OrderCancelled":
        return {"order_id": order_id, "status": "cancelled", "reason": execution.get("cause", "")}
    # A compensation that failed all its retries, or an execution stopped by hand: an operator's case.
    return {"order_id": order_id, "status": "failed", "reason": execution.get("error", execution["status"])}


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
