"""The handoff's event: a points award for one order, shared by the requester and the worker.

``order_id`` is the idempotency key: Lambda may deliver an asynchronous event more than once, and a
requester may hand the same order off twice, but an order earns its points once.
"""

from __future__ import annotations

from shared.validation import Field, Schema

MAX_POINTS = 100_000

AWARD = Schema(
    order_id=Field(str, min_length=1, max_length=128),
    customer_id=Field(str, min_length=1, max_length=128),
    points=Field(int, minimum=1, maximum=MAX_POINTS),
)
