import json
import os
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    if event["httpMethod"] == "POST":
        order = json.loads(event["body"])
        order["id"] = str(uuid.uuid4())
        table.put_item(Item=order)
        return {"statusCode": 201, "body": json.dumps(order)}
    item = table.get_item(Key={"id": event["pathParameters"]["orderId"]}).get("Item")
    if item is None:
        return {"statusCode": 404, "body": json.dumps({"error": "not found"})}
    item["quantity"] = int(item["quantity"])
    return {"statusCode": 200, "body": json.dumps(item)}
