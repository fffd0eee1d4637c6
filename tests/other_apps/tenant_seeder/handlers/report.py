import json
import os

import boto3

s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


def handler(event, context):
    key = event["key"]
    if event.get("from_table"):
        item = dynamodb.get_item(TableName=os.environ["TABLE_NAME"], Key={"id": {"S": event["tenant"]}})
        return {"tenant": item.get("Item")}
    body = s3.get_object(Bucket=os.environ["BUCKET"], Key=key)["Body"].read().decode()
    s3.put_object(
        Bucket=os.environ["BUCKET"], Key=f"{key}.report", Body=json.dumps({"lines": len(body.splitlines())})
    )
    return {"lines": len(body.splitlines())}
