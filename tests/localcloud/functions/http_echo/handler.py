"""An HTTP API Lambda proxy backend that answers with the event it got, or another shape on request.

``?mode=`` (format 2.0 or 1.0 alike) picks the answer: ``bare`` returns a dict without
``statusCode``, ``text`` a bare string, ``cookies`` sets two cookies, ``crash`` raises,
``malformed`` returns a non-string body, ``binary`` base64 bytes; anything else echoes the event.
"""

import base64
import json


def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "bare":
        return {"route": event.get("routeKey"), "ok": True}
    if mode == "text":
        return "just text"
    if mode == "cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "body": "baked"}
    if mode == "crash":
        raise RuntimeError("the backend crashed")
    if mode == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if mode == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"event": event, "function": context.function_name}),
    }
