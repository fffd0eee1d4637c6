"""Logs every invocation of a tumbling window (its window, state, flags and records) and sums ``value``.

A record with ``poison`` fails its batch every time; one with ``fail_final`` makes its window's final
invocation fail once; one with ``pad`` adds that many bytes to the state.
"""

import base64
import itertools
import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]
position = itertools.count()


def first_time(marker):
    try:
        dynamodb.put_item(
            TableName=TABLE, Item={"pk": {"S": marker}}, ConditionExpression="attribute_not_exists(pk)"
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def handler(event, context):
    state = dict(event["state"])
    seen = {
        "n": next(position),
        "stream": event["eventSourceARN"].rsplit("/", 1)[-1],
        "window": event["window"],
        "state": {k: v for k, v in state.items() if k != "pad"},
        "final": event["isFinalInvokeForWindow"],
        "early": event["isWindowTerminatedEarly"],
        "records": [r["kinesis"]["sequenceNumber"] for r in event["Records"]],
    }
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": f"invoke#{context.aws_request_id}"}, "seen": {"S": json.dumps(seen)}},
    )
    if event["isFinalInvokeForWindow"]:
        if state.get("fail_final") and first_time(f"final#{event['window']['start']}"):
            raise RuntimeError("the final invocation fails once")
        return {}
    for record in event["Records"]:
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if data.get("poison"):
            raise ValueError("poison record")
        state["sum"] = state.get("sum", 0) + data.get("value", 0)
        state["fail_final"] = state.get("fail_final") or data.get("fail_final", False)
        if data.get("pad"):
            state["pad"] = state.get("pad", "") + "x" * data["pad"]
    return {"state": state}
