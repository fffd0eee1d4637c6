import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    table.put_item(Item={"id": event["id"], "note": event.get("note", "")})
    return {"statusCode": 200, "body": json.dumps({"saved": event["id"]})}
