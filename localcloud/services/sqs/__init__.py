"""SQS: queues in moto; each message sent is traced so what it causes hangs under its sender."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service, Target, checks_only
from localcloud.core.targets import text
from localcloud.services.sqs import direct, fifo, observe, provision
from localcloud.services.sqs.queues import Queues

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _send(kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "send_message", {
        "QueueUrl": kernel.service("sqs").url_of(arn),
        "MessageBody": text(body),
        **options,
    }


def _queue(arn: str) -> Any:
    """moto's queue of that ARN, None if SQS does not have it."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    return sqs_backends[account][region].queues.get(name)


def _policy(kernel: Kernel, arn: str) -> tuple[str, list[Any]]:
    """The queue's policy, read from moto's queue as SQS reads its own (every delivery reads it:
    asking for it through the API cost more than the delivery); a queue SQS does not have is asked
    for through the API, whose error the sender gets."""
    queue = _queue(arn)
    if queue is None:
        url = kernel.service("sqs").url_of(arn)
        policy = kernel.admin_client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        return arn, kernel.iam.held_policy(arn, policy.get("Attributes", {}).get("Policy"))
    return arn, kernel.iam.held_policy(arn, queue.policy)


def _role_call_policy(kernel: Kernel, arn: str) -> list[Any]:
    """The queue's policy as it is now, for a role's call on it; a queue SQS does not have has none
    (the call itself answers that it does not exist)."""
    queue = _queue(arn)
    return [] if queue is None else kernel.iam.held_policy(arn, queue.policy)


def _key(kernel: Kernel, arn: str) -> str | None:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[kernel.account][kernel.region].queues.get(arn.rsplit(":", 1)[-1])
    return queue.kms_master_key_id if queue else None


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    url = params.get("QueueUrl")
    if url:
        return resource_arn(partition, "sqs", region, account, url.rstrip("/").rsplit("/", 1)[-1])
    if params.get("QueueName"):
        return resource_arn(partition, "sqs", region, account, params["QueueName"])
    return None


#: Most entries SQS takes in one batch call; moto holds SendMessageBatch to it, not the others.
MAX_BATCH_ENTRIES = 10


@checks_only("DeleteMessageBatch", "ChangeMessageVisibilityBatch")
def _check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """Refuse a delete or visibility batch of more than 10 entries, as SQS does (moto takes it)."""
    entries = len(params.get("Entries") or ())
    if entries > MAX_BATCH_ENTRIES:
        raise ClientError(
            {
                "Error": {
                    "Code": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                    "QueryErrorCode": "TooManyEntriesInBatchRequest",
                    "Type": "Sender",
                    "Message": f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. "
                    f"You have sent {entries}.",
                },
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            operation,
        )


SERVICE = Service.of(
    "sqs",
    provision,
    observe,
    fifo,
    state=Queues,
    answers={"sqs.SendMessage": fifo.answer_send, "sqs.SendMessageBatch": fifo.answer_send_batch},
    checks={"sqs": _check},
    target=Target("sqs", _send, "sqs:SendMessage", _policy, _key, direct.send),
    iam_resources={"sqs": _iam_resource},
    resource_policies={"sqs": _role_call_policy},
)
