"""Reads or sets ``Enabled`` of the event source mapping the event names: what its role may do."""

import boto3
from botocore.exceptions import ClientError

lambda_ = boto3.client("lambda")


def handler(event, context):
    try:
        if "enabled" in event:
            answer = lambda_.update_event_source_mapping(UUID=event["uuid"], Enabled=event["enabled"])
        else:
            answer = lambda_.get_event_source_mapping(UUID=event["uuid"])
    except ClientError as error:
        return {"error": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
    return {"state": answer["State"], "arn": answer["EventSourceMappingArn"]}
