"""Behind API Gateway behind a caching CloudFront behavior: answers with what reached it, with the
``Cache-Control`` its ``cc`` query string asks for, and counts its calls."""

import json

CALLS = {"count": 0}


def handler(event, context):
    CALLS["count"] += 1
    query = event.get("queryStringParameters") or {}
    headers = {"Content-Type": "application/json"}
    if "cc" in query:
        headers["Cache-Control"] = query["cc"]
    body = {
        "call": CALLS["count"],
        "path": event["path"],
        "query": query,
        "headers": {name.lower(): value for name, value in (event.get("headers") or {}).items()},
        "secret": (event.get("headers") or {}).get("x-origin-verify"),
    }
    return {"statusCode": 200, "headers": headers, "body": json.dumps(body)}
