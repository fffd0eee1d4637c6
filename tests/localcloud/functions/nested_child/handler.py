"""Answers with what it sees of its environment, modules and time, writes to its table, and changes
its environment as a careless handler might."""

import importlib
import os

import boto3
import common

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    seen = {
        "who": os.environ["WHO"],
        "table": os.environ["TABLE_NAME"],
        "parent_only": os.environ.get("PARENT_ONLY"),
        "common": common.WHO,
        "common_now": importlib.import_module("common").WHO,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    dynamodb.put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={"pk": {"S": event.get("key", "seen")}, "who": {"S": seen["who"]}},
    )
    os.environ["LEAK"] = seen["who"]
    return seen
