"""Logging, metrics and opt-in SDK tracing for every handler, configured from the environment.

``instrument`` is the one decorator a handler needs::

    from shared.observability import instrument, logger, metrics

    @instrument
    def handler(event, context): ...

Powertools' ``Tracer`` imports the X-Ray SDK (about half a second of cold start), so it is only
created when the construct sets ``PATTERN_SDK_TRACING=true``. Lambda's active tracing records
every invocation either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], Any]


def sdk_tracing_enabled() -> bool:
    return os.environ.get("PATTERN_SDK_TRACING", "false").lower() == "true"


def instrument(handler: Handler) -> Handler:
    """Structured logs with the Lambda context, EMF metrics with a cold-start metric, optional tracing."""
    wrapped: Handler = metrics.log_metrics(capture_cold_start_metric=True)(
        logger.inject_lambda_context(clear_state=True)(handler)
    )
    if sdk_tracing_enabled():
        from aws_lambda_powertools import Tracer  # lazy on purpose: see the module docstring

        wrapped = Tracer().capture_lambda_handler(wrapped)
    return wrapped
