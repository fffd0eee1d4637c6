"""One DynamoDB table through the low-level client, with plain Python values in and out.

boto3's resource layer (``boto3.resource("dynamodb").Table``) loads a second service model and
costs about 35 ms more cold start than a client; handlers need only this small part of it::

    table = Table(os.environ["TABLE_NAME"])
    table.put_item({"id": "a", "n": 1}, ConditionExpression="attribute_not_exists(id)")
    table.get_item({"id": "a"})  # {"id": "a", "n": Decimal("1")}

Numbers come back as ``Decimal`` and must go in as ``int`` or ``Decimal`` (DynamoDB has no floats).
"""

from __future__ import annotations

from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serialize(value) for name, value in item.items()}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserialize(value) for name, value in attributes.items()}


class Table:
    """The item calls of one table; other keyword arguments pass through to the client call."""

    def __init__(self, name: str, client: Any = None) -> None:
        self.name = name
        self.client = client or boto3.client("dynamodb")

    @property
    def ConditionalCheckFailed(self) -> type[Exception]:
        return self.client.exceptions.ConditionalCheckFailedException

    def get_item(self, key: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=self.name, Key=to_attributes(key), **kwargs).get("Item")
        return None if found is None else from_attributes(found)

    def put_item(self, item: dict[str, Any], **kwargs: Any) -> None:
        self.client.put_item(TableName=self.name, Item=to_attributes(item), **kwargs)

    def update_item(
        self, key: dict[str, Any], *, values: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """UpdateItem with plain ``values`` (the ``ExpressionAttributeValues``); answers the
        ``Attributes`` that ``ReturnValues`` asked for, plain (empty when none were asked for)."""
        if values is not None:
            kwargs["ExpressionAttributeValues"] = to_attributes(values)
        answer = self.client.update_item(TableName=self.name, Key=to_attributes(key), **kwargs)
        return from_attributes(answer.get("Attributes", {}))

    def delete_item(self, key: dict[str, Any], **kwargs: Any) -> None:
        self.client.delete_item(TableName=self.name, Key=to_attributes(key), **kwargs)

    def scan(
        self, *, limit: int, start_key: dict[str, Any] | None = None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of items and the key to start the next page from (``None`` on the last page)."""
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = to_attributes(start_key)
        page = self.client.scan(TableName=self.name, Limit=limit, **kwargs)
        last = page.get("LastEvaluatedKey")
        return [from_attributes(i) for i in page.get("Items", [])], None if last is None else from_attributes(
            last
        )
