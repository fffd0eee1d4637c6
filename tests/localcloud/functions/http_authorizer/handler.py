"""An HTTP API Lambda authorizer deciding by the token it is given.

``RESPONSE=simple`` answers ``isAuthorized``; otherwise an IAM policy. Tokens: ``allow-<user>``
lets in, ``deny`` refuses, ``elsewhere`` allows only another route's ARN, ``crash`` raises,
``garbled`` answers a shape API Gateway cannot read, ``malformed`` a policy whose statements are not
objects.
"""

import os


def handler(event, context):
    sources = event["identitySource"]
    token = sources[0] if isinstance(sources, list) else sources.split(",")[0]
    if token == "crash":
        raise RuntimeError("authorizer crashed")
    if token == "garbled":
        return ["not", "an", "answer"]
    allowed = token.startswith("allow-")
    user = token.removeprefix("allow-")
    facts = {"user": user, "version": event["version"]}
    if os.environ.get("RESPONSE") == "simple":
        return {"isAuthorized": allowed, "context": facts}
    if token == "malformed":
        return {
            "principalId": "x",
            "policyDocument": {"Statement": ["Allow", {"Effect": "Allow", "Action": 7}]},
        }
    arn = event.get("routeArn") or event["methodArn"]
    if token == "elsewhere":
        arn = arn.rsplit("/", 2)[0] + "/GET/nowhere"
    return {
        "principalId": user or "nobody",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allowed or token == "elsewhere" else "Deny",
                    "Resource": arn,
                }
            ],
        },
        "context": facts,
    }
