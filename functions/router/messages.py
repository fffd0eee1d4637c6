"""The router's message envelope and its route table, shared by the router and the tasks.

A message is ``{"id": str, "type": str, "body": {...}}``. ``type`` picks the task; ``id`` is the
key each task stores the message under, so a message delivered twice is stored once.
"""

from __future__ import annotations

from shared.validation import Field, Schema

ENVELOPE = Schema(
    id=Field(str, min_length=1, max_length=128),
    type=Field(str, min_length=1, max_length=128),
    body=Field(dict),
)

#: Message type -> task. The construct gives the router each task's function name in
#: ``TASK_FUNCTION_<TASK>``; keep in step with ROUTES in patterns/router.py.
ROUTES = {"order.placed": "orders", "payment.refunded": "refunds", "ticket.opened": "tickets"}
