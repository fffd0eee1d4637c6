"""Signs a user in with USER_PASSWORD_AUTH (an unauthenticated call: no IAM grant needed), or makes
the admin call the event names (which needs one); answers the outcome."""

import os

import boto3
from botocore.exceptions import ClientError

idp = boto3.client("cognito-idp")


def handler(event, context):
    try:
        if event.get("admin"):
            idp.admin_get_user(UserPoolId=os.environ["POOL_ID"], Username=event["username"])
            return {"ok": True}
        answer = idp.initiate_auth(
            ClientId=os.environ["CLIENT_ID"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": event["username"], "PASSWORD": event["password"]},
        )
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    return {"id_token": answer["AuthenticationResult"]["IdToken"]}
