"""The published event's schema, shipped beside the handlers; the construct reads the same file at synth."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_FILE = "payment_event.schema.json"
EVENT_SCHEMA = json.loads((Path(__file__).parent / SCHEMA_FILE).read_text())
#: The fields of a log line (or of a space-delimited filter's extracted fields) that describe the payment.
PAYMENT_FIELDS = tuple(EVENT_SCHEMA["properties"]["payment"]["properties"])
#: Payment fields that are integers: a space-delimited filter extracts every field as text.
INTEGER_FIELDS = frozenset(
    name
    for name, spec in EVENT_SCHEMA["properties"]["payment"]["properties"].items()
    if spec["type"] == "integer"
)
