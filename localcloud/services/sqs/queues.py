"""SQS's state in one cloud: the URL of each queue the stack created, by ARN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.services.sqs import speed

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


class Queues:
    def __init__(self, kernel: Kernel) -> None:
        speed.install()
        self.kernel = kernel
        self.urls: dict[str, str] = {}
        #: FIFO deduplication keys -> (first send's time, its answer): see :mod:`.fifo`.
        self.deduplication: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}

    def queue_url(self, queue_arn: str) -> str:
        return self.urls[queue_arn]

    def url_of(self, queue_arn: str) -> str:
        """A queue's URL, also for a queue of another stack or account (asked of SQS, as the sender would)."""
        if queue_arn in self.urls:
            return self.urls[queue_arn]
        _, _, _, _, account, name = queue_arn.split(":", 5)
        sqs = self.kernel.admin_client("sqs")
        return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

    def queue_arn(self, queue_url: str) -> str:
        return next(arn for arn, url in self.urls.items() if url == queue_url)

    def moto_queue(self, queue_name: str) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.kernel.account][self.kernel.region].get_queue(queue_name)
