"""A Lambda proxy behind API Gateway behind CloudFront: answers with what reached it."""

import json


def handler(event, context):
    body = {
        "method": event["httpMethod"],
        "path": event["path"],
        "stage": event["requestContext"]["stage"],
        "query": event.get("queryStringParameters") or {},
        "headers": {name.lower(): value for name, value in (event.get("headers") or {}).items()},
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
