"""FIFO deduplication as SQS keeps it: five minutes from the first send, whether or not that
message is still in the queue.

SQS: "If a message with a particular message deduplication ID is sent successfully, any messages
sent with the same message deduplication ID are accepted successfully but aren't delivered during
the 5-minute deduplication interval" (Amazon SQS Developer Guide, "Using the message deduplication
ID in Amazon SQS"). moto compares a new message only with those still in the queue, so a producer's
retry after the consumer deleted the first copy was delivered a second time. Here a duplicate is
answered with the first message's id (and sequence number) and never reaches moto; with
``DeduplicationScope=messageGroup`` the interval is kept per message group. A message the redrive
policy moves to a dead-letter queue is not sent, so it is not deduplicated.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.service import observes

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall

#: SQS's deduplication interval.
DEDUPLICATION_SECONDS = 300
_ANSWER_FIELDS = ("MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "SequenceNumber")


def _queue(kernel: Kernel, url: str | None) -> Any:
    """moto's queue behind ``url`` if it is a FIFO queue of this cloud, else None."""
    if not url:
        return None
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[kernel.account][kernel.region].queues.get(url.rstrip("/").rsplit("/", 1)[-1])
    return queue if queue is not None and queue.fifo_queue else None


def _key(queue: Any, entry: dict[str, Any]) -> tuple[str, ...] | None:
    """What identifies ``entry`` as a duplicate in ``queue``; None when SQS would refuse it anyway."""
    dedup_id = entry.get("MessageDeduplicationId")
    if dedup_id is None and str(queue.content_based_deduplication).lower() == "true":
        # Content-based: the SHA-256 of the body only, not its attributes.
        dedup_id = hashlib.sha256(str(entry.get("MessageBody", "")).encode()).hexdigest()
    if dedup_id is None or not entry.get("MessageGroupId"):
        return None
    scope = entry["MessageGroupId"] if queue.deduplication_scope == "messageGroup" else ""
    return (queue.name, scope, dedup_id)


def _first_send(kernel: Kernel, key: tuple[str, ...] | None) -> dict[str, Any] | None:
    """The answer to the first send of ``key`` if it was within the interval."""
    if key is None:
        return None
    sent = kernel.service("sqs").deduplication.get(key)
    now = kernel.clock.now().timestamp()
    if sent is None or now - sent[0] >= DEDUPLICATION_SECONDS:
        return None
    return sent[1]


def answer_send(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    queue = _queue(kernel, call.params.get("QueueUrl"))
    first = _first_send(kernel, _key(queue, call.params)) if queue is not None else None
    if first is None:
        return None
    return 200, {**first, "ResponseMetadata": {"HTTPStatusCode": 200}}


def answer_send_batch(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """A batch holding a duplicate (of an earlier send or of an earlier entry) is sent entry by
    entry, so each duplicate gets its first message's answer; any other batch is moto's."""
    queue = _queue(kernel, call.params.get("QueueUrl"))
    entries = call.params.get("Entries") or []
    if queue is None:
        return None
    keys = [_key(queue, entry) for entry in entries]
    known = [k for k in keys if k is not None]
    if len(set(known)) == len(known) and not any(_first_send(kernel, k) for k in known):
        return None
    sqs = kernel.admin_client("sqs")
    successful, failed = [], []
    for entry in entries:
        params = {name: value for name, value in entry.items() if name != "Id"}
        try:
            sent = sqs.send_message(QueueUrl=call.params["QueueUrl"], **params)
        except ClientError as error:
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": True,
                    "Code": error.response["Error"]["Code"],
                    "Message": error.response["Error"].get("Message", ""),
                }
            )
            continue
        successful.append({"Id": entry["Id"], **{f: sent[f] for f in _ANSWER_FIELDS if f in sent}})
    return 200, {"Successful": successful, "Failed": failed, "ResponseMetadata": {"HTTPStatusCode": 200}}


@observes("sqs", "SendMessage")
def message_sent(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """Start the interval of a message's deduplication id at its first successful send."""
    queue = _queue(kernel, params.get("QueueUrl"))
    key = _key(queue, params) if queue is not None else None
    if key is None or _first_send(kernel, key) is not None:
        return
    answer = {field: parsed[field] for field in _ANSWER_FIELDS if field in parsed}
    kernel.service("sqs").deduplication[key] = (kernel.clock.now().timestamp(), answer)


@observes("sqs", "SendMessageBatch")
def batch_sent(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    entries = {entry["Id"]: entry for entry in params.get("Entries") or []}
    for success in parsed.get("Successful", []):
        entry = entries.get(success["Id"])
        if entry is not None:
            message_sent(kernel, {"QueueUrl": params.get("QueueUrl"), **entry}, success)
