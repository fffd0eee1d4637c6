"""Answers with as many bytes as the event asks for, or invokes another function with them, so a
test can put a payload just at or just over Lambda's limits."""

import json
import os

import boto3
from botocore.exceptions import ClientError

lambda_ = boto3.client("lambda")


def sized(size: int) -> bytes:
    """A JSON string of exactly ``size`` bytes, quotes included."""
    return b'"' + b"a" * (size - 2) + b'"'


def handler(event, context):
    if "answer_bytes" in event:
        return json.loads(sized(event["answer_bytes"]))
    if "send_bytes" in event:
        try:
            answer = lambda_.invoke(
                FunctionName=os.environ["TARGET"],
                InvocationType=event.get("type", "RequestResponse"),
                Payload=sized(event["send_bytes"]),
            )
        except ClientError as error:
            return {"status": error.response["ResponseMetadata"]["HTTPStatusCode"], **error.response["Error"]}
        return {"status": answer["StatusCode"]}
    body = event.get("body") if isinstance(event, dict) else None
    if body is not None:  # an API Gateway proxy event: a body "answer N" asks for an N-byte body back
        if body.startswith("answer "):
            return {"statusCode": 200, "body": "a" * int(body.split()[1])}
        return {"statusCode": 200, "body": json.dumps({"received": len(body)})}
    return {"received": len(json.dumps(event))}
