"""SQS: trace each message sent, so the deliveries it causes hang under the span that sent it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import observes

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@observes("sqs", "SendMessage", "SendMessageBatch")
def message_sent(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    queue = params.get("QueueUrl", "").rsplit("/", 1)[-1]
    ids = (
        [parsed["MessageId"]]
        if "MessageId" in parsed
        else [e["MessageId"] for e in parsed.get("Successful", [])]
    )
    for message_id in ids:
        cloud.record_send(f"sqs:{queue}", f"message {message_id}", origin=message_id)
