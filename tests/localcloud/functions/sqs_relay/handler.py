"""Hands each SQS batch's bodies to the DOWNSTREAM function synchronously and waits for its answer:
a consumer whose invocation lasts as long as the slower system it writes to."""

import json
import os

import boto3

lambda_ = boto3.client("lambda")


def handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    lambda_.invoke(FunctionName=os.environ["DOWNSTREAM"], Payload=json.dumps(bodies).encode())
    return {"batchItemFailures": []}
