"""Same module names in two functions: each must see only its own ``models``."""

import os

import models

INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    return {
        "name": models.NAME,
        "invocations_since_cold_start": INVOCATIONS,
        "who": os.environ["WHO"],
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
