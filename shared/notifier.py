"""Publish to a notifier topic only what its message schema allows: the producer's side of the contract.

The topic's subscribers filter and parse what they receive; a message that breaks the schema would
reach some of them and fail there, far from the producer who sent it. So the producer's client
checks each message first and refuses a bad one with :class:`InvalidMessage`, naming every field at
fault, before anything is published. Top-level fields named in ``attribute_fields`` are also sent as
message attributes, for subscribers that filter on attributes rather than on the body::

    client = NotifierClient(os.environ["TOPIC_ARN"], schema, attribute_fields=("event_type",))
    message_id = client.publish({"event_id": "e-1", "event_type": "order_placed", "order": {...}})
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.json_schema import check_schema, validate
from shared.validation import InvalidInput

#: SNS's largest message, body and attributes together.
MAX_MESSAGE_BYTES = 256 * 1024


class InvalidMessage(InvalidInput):
    """The message breaks the topic's schema; ``str(error)`` names each field, safe to show the producer."""


class NotifierClient:
    """A topic's publisher that validates each message against the topic's JSON Schema first."""

    def __init__(
        self,
        topic_arn: str,
        schema: Mapping[str, Any],
        *,
        attribute_fields: Sequence[str] = (),
        sns_client: Any = None,
    ) -> None:
        check_schema(schema)
        properties = schema.get("properties", {})
        for name in attribute_fields:
            if properties.get(name, {}).get("type") != "string" or name not in schema.get("required", ()):
                raise ValueError(f"attribute field {name!r} must be a required string field of the schema")
        self.topic_arn = topic_arn
        self.schema = schema
        self.attribute_fields = tuple(attribute_fields)
        if sns_client is None:
            import boto3  # lazy: a caller that brings its client does not pay for boto3's import here

            sns_client = boto3.client("sns")
        self.sns = sns_client

    def publish(self, message: Any) -> str:
        """Publish ``message`` (a JSON object) and return SNS's message id; :class:`InvalidMessage` if bad."""
        try:
            validate(self.schema, message)
        except InvalidInput as error:
            raise InvalidMessage(str(error)) from None
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        attributes = {
            name: {"DataType": "String", "StringValue": message[name]} for name in self.attribute_fields
        }
        size = len(body.encode()) + sum(len(n) + len(a["StringValue"]) + 6 for n, a in attributes.items())
        if size > MAX_MESSAGE_BYTES:
            raise InvalidMessage(f"message: larger than {MAX_MESSAGE_BYTES} bytes, which SNS refuses")
        return self.sns.publish(TopicArn=self.topic_arn, Message=body, MessageAttributes=attributes)[
            "MessageId"
        ]
