"""Publishes the message it is given to its topic, with string attributes."""

import os

import boto3

sns = boto3.client("sns")


def handler(event, context):
    attributes = {k: {"DataType": "String", "StringValue": v} for k, v in event.get("attributes", {}).items()}
    response = sns.publish(
        TopicArn=os.environ["TOPIC_ARN"], Message=event["message"], MessageAttributes=attributes
    )
    return {"MessageId": response["MessageId"]}
