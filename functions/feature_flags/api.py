"""GET /checkout?user=<id>&tier=<tier>: which checkout a caller gets, decided by feature flags.

The flags come from the AppConfig profile through Powertools' ``FeatureFlags`` (see ``flags.py``),
fetched at most once every ``FLAGS_MAX_AGE_SECONDS`` per instance: a deployed version reaches a
warm instance within that time. ``new_checkout`` decides ``"checkout": "v2"`` (else ``"v1"``) from
the caller's tier and its place in the percentage rollout; ``features`` lists every flag on for
the caller. A caller without a ``tier`` is on the first tier (``free``), and one without a
``user`` is anonymous: outside any percentage rollout. A malformed ``user`` or an unknown ``tier``
is a 400 naming it. When the flags cannot be read, every flag is off (``"flags": "unavailable"``):
the old checkout is the safe default.
"""

from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.feature_flags import FeatureFlags
from aws_lambda_powertools.utilities.feature_flags.exceptions import (
    ConfigurationStoreError,
    SchemaValidationError,
)

from flags import NativeFlagsStore, bucket
from shared.http import BadRequest, Router
from shared.observability import instrument, logger, metrics

TIERS = tuple(os.environ["KNOWN_TIERS"].split(","))
USER = re.compile(r"[A-Za-z0-9_.@-]{1,128}")

store = NativeFlagsStore(
    environment=os.environ["APPCONFIG_ENVIRONMENT"],
    application=os.environ["APPCONFIG_APPLICATION"],
    name=os.environ["APPCONFIG_PROFILE"],
    max_age=int(os.environ["FLAGS_MAX_AGE_SECONDS"]),
)
feature_flags = FeatureFlags(store=store)
app = Router()


@app.get("/checkout")
def checkout() -> dict[str, Any]:
    query = app.current_event.query_string_parameters or {}
    user, tier = query.get("user"), query.get("tier", TIERS[0])
    if user is not None and not USER.fullmatch(user):
        raise BadRequest("user: 1 to 128 letters, digits or _.@-")
    if tier not in TIERS:
        raise BadRequest(f"tier: one of {', '.join(TIERS)}")
    context: dict[str, Any] = {"tier": tier} if user is None else {"tier": tier, "bucket": bucket(user)}
    try:
        # Fetches (or reads the cache) and checks the schema; get_enabled_features alone would
        # answer "no flags" for a store that failed, with nothing to tell it from flags all off.
        feature_flags.get_configuration()
        enabled, source = feature_flags.get_enabled_features(context=context), "appconfig"
    except (ConfigurationStoreError, SchemaValidationError) as error:
        logger.error("flags unavailable; every flag off", extra={"reason": str(error)})
        metrics.add_metric(name="FlagsUnavailable", unit=MetricUnit.Count, value=1)
        enabled, source = [], "unavailable"
    return {
        "user": user,
        "tier": tier,
        "checkout": "v2" if "new_checkout" in enabled else "v1",
        "features": sorted(enabled),
        "flags": source,
    }


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
