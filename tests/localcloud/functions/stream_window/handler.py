"""Sums the ``value`` of a tumbling window's Kinesis records in its state; writes the total at its end."""

import base64
import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


def handler(event, context):
    state = event["state"] or {"total": 0, "records": 0, "invocations": 0}
    if event["isFinalInvokeForWindow"]:
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": event["window"]["start"]},
                "end": {"S": event["window"]["end"]},
                "shard": {"S": event["shardId"]},
                "summary": {"S": json.dumps(state)},
            },
        )
        return {}
    for record in event["Records"]:
        state["total"] += json.loads(base64.b64decode(record["kinesis"]["data"]))["value"]
        state["records"] += 1
    state["invocations"] += 1
    return {"state": state}
