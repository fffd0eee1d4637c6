"""Writes to the table it names: one it was granted, one it was not."""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    table = os.environ[event["table"]]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": event["key"]}})
    return {"written": event["key"]}
