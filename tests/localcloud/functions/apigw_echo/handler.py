"""A Lambda proxy backend that answers with the event it got, or breaks the proxy contract on request.

``?mode=`` picks the answer: ``crash`` raises, ``malformed`` returns a non-string body, ``extra``
adds a key the contract does not have, ``binary`` returns base64 bytes, ``status`` returns the
status in ``?status=``; anything else echoes the event.
"""

import base64
import json


def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "crash":
        raise RuntimeError("the backend crashed")
    if mode == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if mode == "extra":
        return {"statusCode": 200, "body": "{}", "unexpected": True}
    if mode == "binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    if mode == "status":
        return {"statusCode": int(event["queryStringParameters"]["status"]), "body": ""}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "single"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event, "function": context.function_name}),
    }
