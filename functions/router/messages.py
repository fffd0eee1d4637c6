"""The router's message envelope, shared by the router and the tasks.

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
