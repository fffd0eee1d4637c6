"""Event builders shaped like what AWS sends, for handler tests."""

from __future__ import annotations

import json
import uuid
from typing import Any


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
