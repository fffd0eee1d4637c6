"""SQS: trace each message sent, so the deliveries it causes hang under the span that sent it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.observers import observes

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


@observes("sqs", "SendMessage", "SendMessageBatch")
def message_sent(cloud: LocalCloud, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    queue = params.get("QueueUrl", "").rsplit("/", 1)[-1]
    ids = (
        [parsed["MessageId"]]
        if "MessageId" in parsed
        else [e["MessageId"] for e in parsed.get("Successful", [])]
    )
    for message_id in ids:
        cloud.record_send(f"sqs:{queue}", f"message {message_id}", origin=message_id)
