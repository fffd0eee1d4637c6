"""A TOKEN authorizer with no table: ``allow`` is let in, ``deny`` is refused, anything else is 401."""


def handler(event, context):
    token = event.get("authorizationToken")
    if token not in ("allow", "deny"):
        raise Exception("Unauthorized")
    effect = "Allow" if token == "allow" else "Deny"
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
    return {"principalId": "tester", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
