"""The topic's message schema, shipped beside the handlers; the construct reads the same file at synth."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_FILE = "message.schema.json"
MESSAGE_SCHEMA = json.loads((Path(__file__).parent / SCHEMA_FILE).read_text())
