"""Sends every message it receives straight back to its own queue: a loop ``drain()`` must catch."""

import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=record["body"])
