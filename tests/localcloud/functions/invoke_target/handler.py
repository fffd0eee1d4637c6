"""Invokes the function (ARN, name or qualified name) the event names: what its role may reach."""

import json

import boto3
from botocore.exceptions import ClientError

lambda_ = boto3.client("lambda")


def handler(event, context):
    try:
        response = lambda_.invoke(FunctionName=event["target"], Payload=b"{}")
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    return {"executed": response["ExecutedVersion"], "payload": json.loads(response["Payload"].read())}
