"""Records every event it is given, as JSON, so a test can see what a target or subscriber received."""

import json
import os

import boto3

table = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


def handler(event, context):
    table.put_item(
        TableName=TABLE, Item={"pk": {"S": context.aws_request_id}, "event": {"S": json.dumps(event)}}
    )
    return {"recorded": context.aws_request_id}
