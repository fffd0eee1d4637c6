"""Makes one AWS call the event names (``service``, ``dynamodb_get`` or ``dynamodb_delete``), with the default client or one whose connect
timeout is ``connect_timeout`` and which makes one attempt; answers what happened."""

import os

import boto3
from botocore.config import Config

CLIENTS = {}
CALLS = {
    "dynamodb": lambda c, request: c.put_item(TableName=os.environ["TABLE"], Item={"pk": {"S": request}}),
    "sqs": lambda c, request: c.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=request),
    "secretsmanager": lambda c, request: c.get_secret_value(SecretId=os.environ["SECRET"]),
    "dynamodb_get": lambda c, request: c.get_item(TableName=os.environ["TABLE"], Key={"pk": {"S": request}}),
    "dynamodb_delete": lambda c, request: c.delete_item(
        TableName=os.environ["TABLE"], Key={"pk": {"S": request}}
    ),
}


def client(service, connect_timeout):
    if (service, connect_timeout) not in CLIENTS:
        config = (
            Config(connect_timeout=connect_timeout, retries={"total_max_attempts": 1})
            if connect_timeout
            else None
        )
        CLIENTS[service, connect_timeout] = boto3.client(service, config=config)
    return CLIENTS[service, connect_timeout]


def handler(event, context):
    call = event["service"]
    service = call.split("_")[0]
    try:
        CALLS[call](client(service, event.get("connect_timeout")), context.aws_request_id)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "message": str(error)}
    return {"ok": True}
