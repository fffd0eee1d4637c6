import json


def handler(event, context):
    route = event["routeKey"]
    if route == "GET /health":
        return {"ok": True}
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    if route == "POST /notes":
        note = json.loads(event.get("body") or "{}")
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"author": claims["cognito:username"], "text": note.get("text", "")}),
        }
    return {
        "username": claims["cognito:username"],
        "email": claims.get("email"),
        "token_use": claims["token_use"],
    }
