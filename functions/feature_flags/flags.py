"""AppConfig's feature-flag profile (``AWS.AppConfig.FeatureFlags``) read through Powertools.

AppConfig serves a flag profile in its retrieval form, each flag's value and attributes::

    {"new_checkout": {"enabled": true, "tiers": ["enterprise"], "rollout_percent": 10}}

Powertools' ``FeatureFlags`` evaluates its own schema (a default and rules on context), so
:class:`NativeFlagsStore`, an ``AppConfigStore`` that keeps its fetching and caching, hands it each
flag as rules:

- ``enabled: false``: off for everyone;
- ``tiers``: on for a caller whose context ``tier`` is listed (``KEY_IN_VALUE``);
- ``rollout_percent``: on for that share of callers, by their ``bucket`` (``MODULO_RANGE`` over 100,
  so a caller keeps its answer while the percentage grows);
- enabled with neither attribute: on for everyone.

Example::

    flags = FeatureFlags(store=NativeFlagsStore(environment="prod", application="shop", name="flags",
                                                max_age=60))
    flags.evaluate(name="new_checkout", context={"tier": "pro", "bucket": bucket("alice")}, default=False)
"""

from __future__ import annotations

import zlib
from typing import Any

from aws_lambda_powertools.utilities.feature_flags import AppConfigStore

#: MODULO_RANGE's base: a rollout is in whole percentages of callers.
PERCENT = 100


def bucket(user: str) -> int:
    """A stable number for a caller; ``bucket % 100`` places it in a percentage rollout."""
    return zlib.crc32(user.encode())


def as_rules(flags: dict[str, Any]) -> dict[str, Any]:
    """Powertools' feature schema for AppConfig's served flags (see the module docstring)."""
    features: dict[str, Any] = {}
    for name, value in flags.items():
        tiers, percent = value.get("tiers"), value.get("rollout_percent")
        rules: dict[str, Any] = {}
        if value.get("enabled") is True and tiers:
            rules["listed tiers"] = {
                "when_match": True,
                "conditions": [{"action": "KEY_IN_VALUE", "key": "tier", "value": list(tiers)}],
            }
        if value.get("enabled") is True and percent:
            rules[f"{percent}% of callers"] = {
                "when_match": True,
                "conditions": [
                    {
                        "action": "MODULO_RANGE",
                        "key": "bucket",
                        "value": {"BASE": PERCENT, "START": 0, "END": min(int(percent), PERCENT) - 1},
                    }
                ],
            }
        everyone = value.get("enabled") is True and tiers is None and percent is None
        features[name] = {"default": everyone, **({"rules": rules} if rules else {})}
    return features


class NativeFlagsStore(AppConfigStore):
    """An ``AppConfigStore`` (session, tokens, cache of ``max_age`` seconds) over a flag profile."""

    def get_configuration(self) -> dict[str, Any]:
        return as_rules(super().get_configuration())
