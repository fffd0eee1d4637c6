"""Event builders shaped like what AWS sends, for handler tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from boto3.dynamodb.types import TypeSerializer


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    resource: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event. A non-string ``body`` is sent as JSON."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sqs_event(*bodies: Any, queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:queue") -> dict[str, Any]:
    """An SQS event with one record per body; a non-string body is sent as JSON."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1700000000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def dynamodb_stream_event(
    *new_images: dict[str, Any],
    event_name: str = "INSERT",
    stream_arn: str = "arn:aws:dynamodb:us-east-1:123456789012:table/requests/stream/2024-01-01T00:00:00.000",
    key: str = "request_id",
) -> dict[str, Any]:
    """A DynamoDB stream event (view NEW_IMAGE) with one record per image of plain Python values."""
    serialize = TypeSerializer().serialize
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1700000000,
                    "Keys": {key: serialize(image[key])} if key in image else {},
                    "NewImage": {name: serialize(value) for name, value in image.items()},
                    "SequenceNumber": f"{100000000000000000000 + i}",
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": stream_arn,
            }
            for i, image in enumerate(new_images)
        ]
    }


def eventbridge_event(
    detail: Any,
    *,
    source: str = "custom.source",
    detail_type: str = "Event",
    event_bus: str = "default",
) -> dict[str, Any]:
    """One EventBridge event as a rule target receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        "event-bus-name": event_bus,
    }
