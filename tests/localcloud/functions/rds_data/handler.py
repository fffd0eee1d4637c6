"""Runs one statement through the RDS Data API, answering the response or the error's code and message."""

import os

import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    client = boto3.client("rds-data")
    try:
        response = client.execute_statement(
            resourceArn=os.environ["CLUSTER_ARN"],
            secretArn=os.environ["SECRET_ARN"],
            database="shop",
            **event,
        )
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
    response.pop("ResponseMetadata", None)
    return response
