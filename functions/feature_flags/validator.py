"""The flag profile's Lambda validator: AppConfig runs it at StartDeployment and refuses to deploy
a version it raises on, so the version already deployed stays live.

AppConfig's own schema check (types, required attributes, the 0 to 100 range) runs when a version
is created; this one checks what only the product knows:

- ``tiers`` may name only the product's tiers (``KNOWN_TIERS``), so a typo cannot silently reach nobody;
- ``rollout_percent`` is a whole number, as the rollout is in whole percentages of callers;
- an enabled flag with ``tiers`` or ``rollout_percent`` must reach someone: a listed tier or a share above 0.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from shared.observability import instrument, logger

KNOWN_TIERS = frozenset(os.environ["KNOWN_TIERS"].split(","))


class InvalidFlags(Exception):
    """The version breaks a rule above; the message names the flag and the attribute."""


def problems(document: dict[str, Any]) -> list[str]:
    found = []
    for name, value in (document.get("values") or {}).items():
        tiers, percent = value.get("tiers"), value.get("rollout_percent")
        unknown = sorted(set(tiers or ()) - KNOWN_TIERS)
        if unknown:
            found.append(
                f"{name}.tiers: {', '.join(unknown)} is not a tier ({', '.join(sorted(KNOWN_TIERS))})"
            )
        if percent is not None and percent != int(percent):
            found.append(f"{name}.rollout_percent: {percent} is not a whole number")
        targeted = tiers is not None or percent is not None
        if value.get("enabled") is True and targeted and not tiers and not percent:
            found.append(
                f"{name}: enabled, but no tier is listed and rollout_percent is 0, so it reaches nobody"
            )
    return found


@instrument
def handler(event: dict[str, Any], context: Any) -> None:
    try:
        document = json.loads(base64.b64decode(event["content"]))
    except (KeyError, ValueError) as error:
        raise InvalidFlags(f"content: not base64-encoded JSON ({type(error).__name__})") from None
    found = problems(document) if isinstance(document, dict) else ["content: not a JSON object"]
    logger.info("validated", extra={"version": event.get("configurationVersion"), "problems": found})
    if found:
        raise InvalidFlags("; ".join(found))
