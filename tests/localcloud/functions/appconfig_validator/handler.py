"""An AppConfig Lambda validator: refuses a quota above 100 by raising, as AppConfig expects."""

import base64
import json


def handler(event, context):
    quota = json.loads(base64.b64decode(event["content"]))
    if quota["limit"] > 100:
        raise ValueError(f"limit {quota['limit']} is above 100")
