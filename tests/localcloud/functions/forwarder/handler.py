"""Forwards every event it gets to a queue the test reads, tagged with who got it."""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    sqs.send_message(
        QueueUrl=os.environ["SEEN_QUEUE_URL"],
        MessageBody=json.dumps({"who": os.environ["WHO"], "event": event}),
    )
