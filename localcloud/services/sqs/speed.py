"""moto's SQS costs that grow with a queue's length, made small: a burst of 500 messages took
half a minute to drain, most of it in two places.

- Receiving, moto checks each message's retention by asking for the queue's
  ``MessageRetentionPeriod`` through ``get_queue_attributes``, which builds every attribute, the
  approximate counts too: three passes over all the queue's messages, per message received.
  Here the check reads the queue's retention period directly.
- Sending, moto reads one attribute of the queue (``ContentBasedDeduplication``) from all of
  them, so each message sent counted every message queued. Here the approximate counts, which a
  send never reads, are left at 0 while moto sends.
- Each of those passes asks every message whether it is visible and delayed, and each asks moto
  for the time, through freezegun's patched ``datetime``: tens of microseconds a message. Here
  moto's SQS reads the frozen time from freezegun's clock directly, by the same arithmetic.

Answers are unchanged: the same clock, the same retention rule, the same counts.
"""

from __future__ import annotations

import contextvars
import datetime
from collections.abc import Callable
from typing import Any

import freezegun.api
import moto.core.utils
import moto.sqs.models

_EPOCH = datetime.datetime(1970, 1, 1)
_installed = False
#: Whether moto's queue attributes count messages now (not while moto sends a message).
_counting = contextvars.ContextVar("sqs_counting", default=True)
#: The attributes that count a queue's messages, one pass over them each.
COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


def unix_time(dt: datetime.datetime | None = None) -> float:
    """moto's ``unix_time``, reading a frozen clock without going through the patched ``datetime``."""
    if dt is None:
        if not freezegun.api.freeze_factories:
            return moto.core.utils.unix_time()
        dt = freezegun.api.freeze_factories[-1]()
    delta = dt - _EPOCH
    return (delta.days * 86400) + (delta.seconds + (delta.microseconds / 1e6))


def unix_time_millis(dt: datetime.datetime | None = None) -> float:
    return unix_time(dt) * 1000.0


def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    retention_period = self.get_queue(queue_name).message_retention_period
    return int(retention_period) + message.sent_timestamp / 1000 > unix_time()


def _counted(count: property) -> property:
    getter = count.fget
    assert getter is not None
    return property(lambda queue: getter(queue) if _counting.get() else 0)


def _not_counting(send: Callable[..., Any]) -> Callable[..., Any]:
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _counting.set(False)
        try:
            return send(self, *args, **kwargs)
        finally:
            _counting.reset(token)

    return send_message


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    moto.sqs.models.unix_time = unix_time
    moto.sqs.models.unix_time_millis = unix_time_millis
    moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )
    for name in COUNTS:
        setattr(moto.sqs.models.Queue, name, _counted(getattr(moto.sqs.models.Queue, name)))
    moto.sqs.models.SQSBackend.send_message = _not_counting(moto.sqs.models.SQSBackend.send_message)
