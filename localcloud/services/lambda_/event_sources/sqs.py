"""The SQS event source mapping: Lambda's poller between a queue and a function.

What it does, as AWS documents it:

- refuses the mapping (``InvalidParameterValueException``) unless the function's role may
  ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and ``sqs:GetQueueAttributes`` on the queue, and
  when the queue's visibility timeout is shorter than the function's timeout;
- receives up to ``BatchSize`` messages, waiting up to ``MaximumBatchingWindowInSeconds`` for a
  fuller batch, and keeps each received message invisible for the queue's visibility timeout;
- cuts a batch to Lambda's 6 MB synchronous payload limit (``BatchSize``: "up to the payload limit
  for synchronous invocation (6 MB)"): the messages past it go as the next batch, in the same poll;
- invokes the function synchronously with the batch, at most ``ScalingConfig.MaximumConcurrency``
  (2 to 1000) batches at a time, each holding its slot for as long as the invocation lasted in
  virtual time: the function's ``duration`` or, if later, the end of the calls it waited on (a
  consumer writing to a slow downstream is paced by it, as on AWS);
- settles the batch when the invocation ends in virtual time, not when it starts: a run longer than
  the queue's visibility timeout finds its messages visible again while it runs, and Lambda receives
  and invokes them again (at least once, as AWS warns; the trace's delivery says so);
- deletes the batch on success; on a function error deletes nothing, so every message returns
  after its visibility timeout; with ``ReportBatchItemFailures`` deletes all but the reported ones
  (an unknown identifier fails the whole batch); a message SQS answers as ``Failed`` in
  ``DeleteMessageBatch`` stays in the queue and returns after its visibility timeout, so Lambda
  receives it again (delivery is at least once);
- deletes messages its filter criteria reject, without invoking;
- leaves the move to the dead-letter queue after ``maxReceiveCount`` to the queue's redrive policy.

FIFO queues keep order within a message group: a group with messages in flight is not received
from again until they are deleted or visible again (moto's queue holds that rule). A mapping of a
FIFO queue takes a batch of at most 10 and no batching window, as Lambda refuses otherwise.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.errors import InvalidRequest
from localcloud.lib.event_patterns import matches
from localcloud.services.lambda_ import payload_limits
from localcloud.services.lambda_.event_sources import Consumer, Deliver, MappingSettings, invoke

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

#: What Lambda makes sure the function's role may do on the queue before creating the mapping, in
#: the order it checks: it receives, deletes, and reads the queue's attributes with that role.
REQUIRED_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
#: How many batches Lambda processes at once from one queue when no maximum concurrency is set.
DEFAULT_MAX_CONCURRENCY = 1000
#: Lambda's largest batch from a FIFO queue.
MAX_FIFO_BATCH = 10
#: What Lambda accepts for ``ScalingConfig.MaximumConcurrency`` of an SQS event source.
MAX_CONCURRENCY_RANGE = (2, 1000)


class SqsEventSource:
    def __init__(
        self,
        cloud: Kernel,
        mapping_id: str,
        function: Consumer,
        props: dict[str, Any],
        deliver: Deliver | None = None,
        session: str | None = None,
    ) -> None:
        self.cloud = cloud
        self.id = mapping_id
        self.function = function
        self.deliver = deliver or invoke(cloud, function)  # type: ignore[arg-type]
        self.session = session or f"esm:{function.name}"
        self.queue_arn: str = props["EventSourceArn"]
        self.queue_url = cloud.service("sqs").queue_url(self.queue_arn)
        self.queue_name = self.queue_arn.rsplit(":", 1)[1]
        settings = MappingSettings.from_props(props, default_batch_size=10)
        self.enabled, self.batch_size, self.window = (
            settings.enabled,
            settings.batch_size,
            settings.batching_window,
        )
        self.report_failures, self.filters = settings.report_failures, settings.filters
        self.max_concurrency = int(
            props.get("ScalingConfig", {}).get("MaximumConcurrency", DEFAULT_MAX_CONCURRENCY)
        )
        self._window_ends: datetime | None = None
        self._running: list[datetime] = []
        self.label = f"sqs:{self.queue_name}"
        self._check_max_concurrency()
        if deliver is None:
            self._check_fifo_limits()
            self._check_visibility_timeout()
        self._check_role()
        # Creating the mapping, Lambda reads the queue's attributes with the function's role.
        cloud.client_as(function.role_arn, "sqs", self.session).get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["All"]
        )

    def _check_fifo_limits(self) -> None:
        """Refuse what Lambda refuses for a FIFO queue ("Lambda parameters for Amazon SQS event
        source mappings": a batch of at most 10, no batching window)."""
        if not self.queue_name.endswith(".fifo"):
            return
        if self.batch_size > MAX_FIFO_BATCH:
            raise InvalidRequest(
                f"InvalidParameterValueException: BatchSize {self.batch_size} is over {MAX_FIFO_BATCH}, "
                f"the maximum for a FIFO queue (mapping {self.queue_arn} to {self.function.name})"
            )
        if self.window:
            raise InvalidRequest(
                "InvalidParameterValueException: Batching window is not supported for FIFO queues "
                f"(mapping {self.queue_arn} to {self.function.name})"
            )

    def _check_visibility_timeout(self) -> None:
        """Refuse a queue whose visibility timeout is shorter than the function's timeout, as Lambda
        refuses the mapping: its messages would turn visible again while the function still runs."""
        timeout = getattr(self.function, "timeout", None)
        visibility = int(self._queue().visibility_timeout)
        if timeout is not None and visibility < timeout:
            raise InvalidRequest(
                f"InvalidParameterValueException: Queue visibility timeout: {visibility} seconds is less "
                f"than Function timeout: {timeout} seconds (mapping {self.queue_arn} to {self.function.name})"
            )

    def _check_max_concurrency(self) -> None:
        """Refuse a maximum concurrency Lambda refuses ("Configuring maximum concurrency for Amazon
        SQS event sources": 2 to 1000)."""
        low, high = MAX_CONCURRENCY_RANGE
        if not low <= self.max_concurrency <= high:
            raise InvalidRequest(
                f"InvalidParameterValueException: ScalingConfig.MaximumConcurrency {self.max_concurrency} "
                f"is outside {low} to {high} (mapping {self.queue_arn} to {self.function.name})"
            )

    def _check_role(self) -> None:
        """Refuse the mapping, as Lambda does, if the role may not do what the poller does."""
        if not self.cloud.enforce_iam:
            return
        for action in REQUIRED_ACTIONS:
            if not self.cloud.iam.decide(self.function.role_arn, action, self.queue_arn).allowed:
                raise InvalidRequest(
                    "InvalidParameterValueException: The provided execution role does not have "
                    f"permissions to call {action.split(':')[1]} on SQS "
                    f"(mapping {self.queue_arn} to {self.function.name}, role {self.function.role_arn})"
                )

    # ------------------------------------------------------------------------------------ polling

    def poll(self) -> bool:
        """Deliver one batch if one is deliverable now; return whether anything happened.

        One batch per poll: the pump polls again until quiet, so a function that feeds its own
        queue is caught by ``drain``'s bound instead of looping inside one poll.
        """
        if not self.enabled:
            return False
        now = self.cloud.clock.now()
        self._running = [end for end in self._running if end > now]
        if len(self._running) >= self.max_concurrency or not self._ready(now):
            return False
        messages = self._receive()
        if not messages:
            return False
        self._window_ends = None
        kept = self._filter(messages)
        records = [self._record(m) for m in kept]
        start = 0
        while start < len(kept):
            count = payload_limits.fitting(records[start:])
            lasted = self._deliver(kept[start : start + count], records[start : start + count])
            self._running.append(now + timedelta(seconds=lasted))
            start += count
        return True

    def next_wakeup(self) -> datetime | None:
        """When something could next be delivered: a message turning visible, or the window ending."""
        if not self.enabled:
            return None  # a disabled mapping receives nothing until it is enabled again
        moments = [m for m in (self._window_ends, *self._running) if m is not None]
        queue = self._queue()
        for message in queue._messages:
            moment = max(message.visible_at, message.delayed_until) / 1000
            if moment > 0:
                moments.append(datetime.fromtimestamp(moment + 0.001, tz=self.cloud.clock.now().tzinfo))
        later = [m for m in moments if m > self.cloud.clock.now()]
        return min(later) if later else None

    def _ready(self, now: datetime) -> bool:
        """Whether to receive now: a full batch is waiting, or there is no window, or it has passed."""
        if self.window == 0:
            return True
        available = sum(1 for m in self._queue()._messages if m.visible and not m.delayed)
        if available == 0:
            return False
        if available >= self.batch_size:
            return True
        if self._window_ends is None:
            self._window_ends = now + timedelta(seconds=self.window)
        return now >= self._window_ends

    def _queue(self) -> Any:
        return self.cloud.service("sqs").moto_queue(self.queue_name)

    def _receive(self) -> list[dict[str, Any]]:
        sqs = self.cloud.client_as(self.function.role_arn, "sqs", self.session)
        received: list[dict[str, Any]] = []
        self._release_timed_out_fifo_messages()
        self._trace_redrives()
        while len(received) < self.batch_size:
            page = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(received)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not page:
                break
            received.extend(page)
        return received

    def _release_timed_out_fifo_messages(self) -> None:
        """Release every FIFO message whose visibility timed out before receiving, as SQS does.

        moto releases them one by one while it iterates, so a later message of a group could be
        received before an earlier one that timed out at the same moment.
        """
        queue = self._queue()
        if queue.fifo_queue:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.remove(message)

    def _trace_redrives(self) -> None:
        queue = self._queue()
        policy = queue.redrive_policy
        if not policy or queue.dead_letter_queue is None:
            return
        for message in queue._messages:
            if message.visible and message.approximate_receive_count >= policy["maxReceiveCount"]:
                self.cloud.trace.record(
                    "redrive",
                    self.label,
                    f"sqs:{queue.dead_letter_queue.name}",
                    f"message {message.id} after {message.approximate_receive_count} receives",
                    at=self.cloud.clock.elapsed(),
                    parent=self.cloud.origin_of(message.id),
                    outcome="dead-lettered",
                )

    def _filter(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.filters:
            return messages
        kept, dropped = [], []
        for message in messages:
            record = self._record(message)
            try:
                body: Any = json.loads(record["body"])
            except ValueError:
                body = record["body"]
            (kept if any(matches(f, {**record, "body": body}) for f in self.filters) else dropped).append(
                message
            )
        if dropped:
            kept_back = self._delete(dropped)
            self.cloud.trace.record(
                "filter",
                self.label,
                self.function.name,
                f"{len(dropped)} message(s) filtered out and deleted",
                at=self.cloud.clock.elapsed(),
                outcome=_not_deleted(kept_back) or "deleted",
            )
        return kept

    def _deliver(self, messages: list[dict[str, Any]], records: list[dict[str, Any]]) -> float:
        """Hand ``messages`` (as ``records``) over, and settle them when the invocation ends; return
        the virtual seconds the batch held its slot."""
        cause = self.cloud.origin_of(messages[0]["MessageId"])
        delivery = self.cloud.trace.record(
            "deliver",
            self.label,
            self.function.name,
            f"batch of {len(messages)}",
            at=self.cloud.clock.elapsed(),
            parent=cause,
            message_ids=[m["MessageId"] for m in messages],
        )
        result = self.deliver({"Records": records}, self.label, delivery.id)
        lasted = max(self.function.duration, getattr(result, "duration", 0.0))
        if lasted > 0:
            self.cloud.clock.call_later(
                lasted, lambda: self._settle(messages, result, delivery, lasted), f"settle {self.label}"
            )
        else:
            self._settle(messages, result, delivery, lasted)
        return lasted

    def _settle(self, messages: list[dict[str, Any]], result: Any, delivery: Span, lasted: float) -> None:
        """Delete what the invocation processed, as Lambda does once the function has returned."""
        outcomes = []
        timeout = self._queue().visibility_timeout
        if lasted > timeout:
            outcomes.append(
                f"ran {lasted:g} s, past the visibility timeout of {timeout:g} s: the batch was visible "
                "again while the function ran, and may have been delivered twice"
            )
        if result.failed:
            delivery.outcome = "; ".join(
                [*outcomes, "batch failed: every message returns after its visibility timeout"]
            )
            return
        failed_ids = self._reported_failures(result.payload, messages)
        if failed_ids is None:
            delivery.outcome = "; ".join([*outcomes, "invalid batchItemFailures: the whole batch returns"])
            return
        kept_back = self._delete([m for m in messages if m["MessageId"] not in failed_ids])
        outcomes += [f"{len(failed_ids)} failed item(s) return"] if failed_ids else []
        outcomes += [_not_deleted(kept_back)] if kept_back else []
        delivery.outcome = "; ".join(outcomes) or "deleted"

    def _reported_failures(self, payload: Any, messages: list[dict[str, Any]]) -> set[str] | None:
        """The message ids the function reported as failed; ``None`` if the report is invalid."""
        if not self.report_failures or not isinstance(payload, dict) or not payload.get("batchItemFailures"):
            return set()
        ids = {m["MessageId"] for m in messages}
        reported = set()
        for failure in payload["batchItemFailures"]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in ids:
                return None
            reported.add(identifier)
        return reported

    def _delete(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete ``messages``; return the ``Failed`` entries SQS answered, each with its message
        id: those messages stay in the queue."""
        sqs = self.cloud.client_as(self.function.role_arn, "sqs", self.session)
        failed: list[dict[str, Any]] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            answer = sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            failed += [
                {**entry, "MessageId": chunk[int(entry["Id"])]["MessageId"]}
                for entry in answer.get("Failed", [])
            ]
        return failed

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One record of the event Lambda sends, from a received message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.cloud.region,
        }


def _not_deleted(failed: list[dict[str, Any]]) -> str:
    """A trace outcome for the messages SQS did not delete: they return after their visibility timeout."""
    if not failed:
        return ""
    codes = ", ".join(sorted({entry["Code"] for entry in failed}))
    return f"{len(failed)} not deleted ({codes}): they return after their visibility timeout"
