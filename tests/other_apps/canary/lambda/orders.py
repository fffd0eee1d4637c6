import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def main(event, context):
    if "Records" in event:
        for record in event["Records"]:
            order = json.loads(record["body"])
            table.put_item(
                Item={
                    "id": order["id"],
                    "release": os.environ["RELEASE"],
                    "version": context.function_version,
                }
            )
        return {}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"release": os.environ["RELEASE"], "version": context.function_version}),
    }
