"""A service's delivery to a standard queue, made straight to moto's SQS backend.

SNS, S3 and an EventBridge rule without a role deliver by calling SQS as their service principal. Through the SDK each such call is
signed, serialized, parsed by moto's request layer and its answer parsed back: about a millisecond
of CPU here, the most of what an SNS fan-out costs (a message to two queues cost five times the same
moto calls, which fan out inside moto). Nothing of that is a semantic: who may send is the queue's
resource policy (checked before, in :func:`localcloud.core.targets.send`), the queue's KMS key
(checked before, in :func:`localcloud.core.delivery.deliver`), the service principal's own role
allows everything, and the queue's limits are moto's backend's (body size, attributes), checked here
as on the SDK path. The services' observers of ``SendMessage`` (the trace, the FIFO bookkeeping,
the event source mappings) see the call as after an SDK call.

What this does not take, it leaves to the SDK path (``None``): a FIFO queue (its deduplication is
answered before moto), a binary message attribute, any option other than ``MessageAttributes``, a
queue moto does not have (the SDK call then gets SQS's own error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.targets import text

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def send(kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]) -> dict[str, Any] | None:
    """``SendMessage``'s answer, or None to make the call through the SDK instead."""
    from moto.core.exceptions import ServiceException
    from moto.sqs.models import sqs_backends
    from moto.sqs.utils import validate_message_attributes

    attributes = options.get("MessageAttributes") or {}
    if set(options) - {"MessageAttributes"} or any("StringValue" not in a for a in attributes.values()):
        return None
    _, _, _, region, account, name = arn.split(":", 5)
    backend = sqs_backends[account][region]
    queue = backend.queues.get(name)
    if queue is None or queue.fifo_queue:
        return None
    params = {"QueueUrl": kernel.service("sqs").url_of(arn), "MessageBody": text(body), **options}
    try:
        validate_message_attributes(attributes)
        message = backend.send_message(name, params["MessageBody"], message_attributes=attributes)
    except ServiceException as error:
        raise ClientError({"Error": {"Code": error.code, "Message": error.message}}, "SendMessage") from None
    parsed = {"MD5OfMessageBody": message.body_md5, "MessageId": message.id}
    if message.message_attributes:
        parsed["MD5OfMessageAttributes"] = message.attribute_md5
    kernel.after_call("sqs", "SendMessage", params, parsed)
    return parsed
