"""A $connect authorizer: the token names the caller; ``deny`` is refused, ``unauthorized`` raises."""


def handler(event, _context):
    token = (event.get("queryStringParameters") or {}).get("token") or event["headers"].get("X-Token")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    effect = "Deny" if token == "deny" else "Allow"
    return {
        "principalId": token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"user": token},
    }
