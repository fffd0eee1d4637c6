"""Fails the first ``failures`` attempts for an id (counted in a table), then succeeds; or always,
with a permanent error, when asked to: retries and catches can be watched."""

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


def handler(event, context):
    if event.get("permanent"):
        raise PermanentError(f"order {event['id']} cannot be processed")
    attempt = table.update_item(
        Key={"pk": event["id"]},
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]["attempts"]
    if attempt <= event.get("failures", 0):
        raise TransientError(f"attempt {attempt} of {event['id']} failed")
    return {"id": event["id"], "attempts": int(attempt)}
