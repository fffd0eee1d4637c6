"""Makes the DynamoDB call the event names on the table in TABLE_NAME, and answers its result."""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    answer = getattr(dynamodb, event["operation"])(TableName=os.environ["TABLE_NAME"], **event["params"])
    return {"found": "Item" in answer}
