"""The webhook event contract, shared by the receiver and the worker of this pattern."""

from __future__ import annotations

from shared.validation import Field, Schema

#: ``id`` is the sender's delivery id: senders retry, so it is the idempotency key downstream.
WEBHOOK_EVENT = Schema(
    id=Field(str, min_length=1, max_length=128),
    type=Field(str, min_length=1, max_length=128),
    data=Field(dict),
)
