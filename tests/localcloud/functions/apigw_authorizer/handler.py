"""A Lambda authorizer (TOKEN or REQUEST) that looks the caller's token up in a grants table.

The item ``{pk: token, effect, scope, user}`` decides: ``effect`` Allow or Deny, ``scope`` the
resource the policy names (``own`` the method ARN asked for, ``other`` another method's, ``all``
every method of the API). No item: ``Unauthorized``. The token ``crash`` raises another error.
"""

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["GRANTS_TABLE"])


def handler(event, context):
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("X-Token")
    if token == "crash":
        raise RuntimeError("the authorizer crashed")
    item = table.get_item(Key={"pk": token}).get("Item")
    if item is None:
        raise Exception("Unauthorized")
    arn = event["methodArn"]
    api_arn = arn.split("/", 1)[0]
    resource = {"own": arn, "other": f"{api_arn}/*/DELETE/nothing", "all": f"{api_arn}/*/*"}[item["scope"]]
    return {
        "principalId": item["user"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": item["effect"], "Resource": resource}],
        },
        "context": {
            "user": item["user"],
            "tier": 3,
            "admin": True,
            "event_type": event["type"],
            "method_arn": arn,
        },
    }
