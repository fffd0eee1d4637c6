"""Cold-start baseline: the least a handler that talks to AWS does at import (boto3 and one client)."""

from __future__ import annotations

from typing import Any

import boto3

dynamodb = boto3.client("dynamodb")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "hello world"}
