import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    ctx = event["requestContext"]
    message = json.loads(event["body"]).get("data", "")
    api = boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            api.post_to_connection(ConnectionId=item["connectionId"], Data=message.encode())
        except api.exceptions.GoneException:
            print(f"Found stale connection, deleting {item['connectionId']}")
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": "Data sent."}
