"""An AppConfig Lambda validator of a feature-flag profile: it must be given the content as stored
(``version``, ``flags``, ``values``), not as served, and it refuses a banner whose text is "forbidden"."""

import base64
import json


def handler(event, context):
    stored = json.loads(base64.b64decode(event["content"]))
    if "values" not in stored or set(stored) - {"version", "flags", "values"}:
        raise ValueError(f"not the stored form of a flag profile: keys {sorted(stored)}")
    if stored["values"].get("banner", {}).get("text") == "forbidden":
        raise ValueError("banner text 'forbidden' is not allowed")
