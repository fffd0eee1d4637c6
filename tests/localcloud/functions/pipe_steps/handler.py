"""A pipe's enrichment and target: each records the batches it gets, to see what a pipe passed on.

``enrich`` gets DynamoDB stream records: an order whose status is ``poison`` fails the batch, one
whose status is ``drop`` is left out, the rest come back as plain orders. ``target`` gets SQS
records (as its pipe's input template shaped them) and reports those with ``fail`` in their body as
batch item failures.
"""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


def record(context, event):
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"{context.function_name}#{context.aws_request_id}"},
            "batch": {"S": json.dumps(event)},
        },
    )


def enrich(event, context):
    record(context, event)
    orders = []
    for change in event:
        image = change["dynamodb"]["NewImage"]
        order = {name: next(iter(value.values())) for name, value in image.items()}
        if order.get("status") == "poison":
            raise ValueError(f"cannot enrich order {order['pk']}")
        if order.get("status") != "drop":
            orders.append({**order, "enriched": True})
    return orders


def target(event, context):
    record(context, event)
    return {"batchItemFailures": [{"itemIdentifier": item["id"]} for item in event if "fail" in item["body"]]}
