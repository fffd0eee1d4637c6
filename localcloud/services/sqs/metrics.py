"""SQS's metrics (namespace ``AWS/SQS``, dimension ``QueueName``), sampled at each minute of the
virtual clock for every queue of the stack, as SQS reports them each minute:
``ApproximateNumberOfMessagesVisible``, ``ApproximateNumberOfMessagesNotVisible``,
``ApproximateNumberOfMessagesDelayed`` (counts) and ``ApproximateAgeOfOldestMessage`` (seconds
since the oldest message still in the queue was sent; 0 when it is empty). SQS stops reporting a
queue after six hours without activity; the local cloud keeps sampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

NAMESPACE = "AWS/SQS"
MINUTE = 60


class QueueSampler:
    """The pump's schedule of the minute samples; ``drain()`` does not wait for it."""

    schedule = True

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        now = kernel.clock.now().timestamp()
        self.next = datetime.fromtimestamp((now // MINUTE + 1) * MINUTE, UTC)

    def poll(self) -> bool:
        sampled = False
        while self.next <= self.kernel.clock.now():
            self.sample(self.next)
            self.next += timedelta(seconds=MINUTE)
            sampled = True
        return sampled

    def next_wakeup(self) -> datetime | None:
        """The next minute, unless every queue is empty: then each minute's sample is zeros, taken
        in :meth:`catch_up` when the clock moves on, so a long ``advance`` does not stop every minute
        (and poll every shard and queue of the stack at each stop) only to sample nothing."""
        return self.next if not self._all_empty() else None

    def catch_up(self, moment: datetime) -> None:
        """Before the quiet clock moves to ``moment``: the minutes before it, each sampled as it would
        have been then, since every queue is empty and stays so until the clock gets there."""
        if not self._all_empty():
            return
        while self.next < moment:
            self.sample(self.next)
            self.next += timedelta(seconds=MINUTE)

    def _all_empty(self) -> bool:
        queues = self.kernel.service("sqs")
        return not any(queues.moto_queue(arn.rsplit(":", 1)[-1])._messages for arn in list(queues.urls))

    def sample(self, moment: datetime) -> None:
        queues = self.kernel.service("sqs")
        for arn in list(queues.urls):
            name = arn.rsplit(":", 1)[-1]
            queue = queues.moto_queue(name)
            sent = [m.sent_timestamp for m in queue._messages if m.sent_timestamp is not None]
            oldest = max(0.0, moment.timestamp() - min(sent) / 1000) if sent else 0.0
            put, dimensions = self.kernel.metrics.put, {"QueueName": name}
            put(
                NAMESPACE,
                "ApproximateNumberOfMessagesVisible",
                dimensions,
                queue.approximate_number_of_messages,
                "Count",
                moment,
            )
            put(
                NAMESPACE,
                "ApproximateNumberOfMessagesNotVisible",
                dimensions,
                queue.approximate_number_of_messages_not_visible,
                "Count",
                moment,
            )
            put(
                NAMESPACE,
                "ApproximateNumberOfMessagesDelayed",
                dimensions,
                queue.approximate_number_of_messages_delayed,
                "Count",
                moment,
            )
            put(NAMESPACE, "ApproximateAgeOfOldestMessage", dimensions, int(oldest), "Seconds", moment)


def sample_each_minute(kernel: Kernel) -> None:
    """Start the minute samples, once per cloud (with its first queue)."""
    queues = kernel.service("sqs")
    if getattr(queues, "sampler", None) is None:
        queues.sampler = QueueSampler(kernel)
        kernel.add_pollable(queues.sampler)
