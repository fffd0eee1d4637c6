"""The recovery check: on a schedule, matches the processor's event source mapping to the circuit.

The processor cannot switch its own mapping (the mapping names the function, so the function
cannot name the mapping without a cycle in the template); this check can (``MAPPING_UUID``). Each run:

- circuit closed: the mapping is enabled (enabled again if an earlier run disabled it);
- circuit open or half-open: the mapping is disabled, so SQS keeps the stored requests with no
  receive counted; then, through the same breaker, one shallow health check of the service goes
  through when the circuit lets a probe through. A healthy answer closes the circuit and enables
  the mapping, and everything stored is processed; a failed one opens the circuit again for twice
  as long.

A mapping between states (``Enabling``, ``Disabling``) is left to settle; the next run finishes.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fulfilment_client import ServiceFailed, breaker, call_fulfilment, lambda_client
from shared.circuit_breaker import CLOSED, CircuitOpen
from shared.observability import instrument, logger, metrics

MAPPING_UUID = os.environ["MAPPING_UUID"]
#: The mapping's states that receive, and that do not.
RECEIVING, HOLDING = ("Enabled", "Enabling"), ("Disabled", "Disabling")


def switch(state: str, enabled: bool) -> str:
    """Enable or disable the mapping unless it already is (or is becoming) so; answer its state."""
    if state in (RECEIVING if enabled else HOLDING):
        return state
    if state not in (*RECEIVING, *HOLDING):
        logger.info("mapping between states; the next check settles it", extra={"state": state})
        return state
    try:
        answer = lambda_client.update_event_source_mapping(UUID=MAPPING_UUID, Enabled=enabled)
    except lambda_client.exceptions.ResourceInUseException:
        logger.info("mapping busy changing; the next check settles it", extra={"state": state})
        return state
    logger.warning("mapping switched", extra={"enabled": enabled, "state": answer["State"]})
    metrics.add_metric(
        name="MappingEnabled" if enabled else "MappingDisabled", unit=MetricUnit.Count, value=1
    )
    return str(answer["State"])


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = lambda_client.get_event_source_mapping(UUID=MAPPING_UUID)["State"]
    circuit = breaker.read()
    if circuit.state == CLOSED:
        return {"circuit": CLOSED, "mapping": switch(state, True)}
    state = switch(state, False)
    try:
        breaker.call(lambda: call_fulfilment({"health": True}))
    except CircuitOpen as open_:
        return {"circuit": open_.circuit.state, "mapping": state, "retry_after": open_.retry_after}
    except ServiceFailed as failure:
        logger.warning("probe failed", extra={"reason": str(failure)})
        return {"circuit": breaker.read().state, "mapping": state, "probe": "failed"}
    return {"circuit": CLOSED, "mapping": switch(state, True), "probe": "healthy"}
