"""EventBridge (buses, rules, archives, replays) and EventBridge Scheduler: rules match and schedules
fire on the local cloud's clock, and deliver to their targets through the kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.iam import arn_or_named
from localcloud.core.service import AwsCall, Service, Target
from localcloud.core.targets import text
from localcloud.services.events import observe, provision
from localcloud.services.events.observe import MAX_ENTRIES_BYTES, EventBridge, entries_size

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _refuse_oversized_events(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """EventBridge refuses a PutEvents request whose entries exceed its size quota; moto takes them."""
    if entries_size(call.params.get("Entries", [])) <= MAX_ENTRIES_BYTES:
        return None
    body = {
        "Error": {
            "Code": "ValidationException",
            "Message": "Total size of the entries in the request is over the limit.",
        },
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return 400, body


def _put_event(
    kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    return "put_events", {"Entries": [{"EventBusName": arn, "Detail": text(body), **options}]}


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    entries = params.get("Entries") or [{}]
    bus = entries[0].get("EventBusName") or params.get("EventBusName") or "default"
    return arn_or_named(bus, where, "events", f"event-bus/{bus}")


SERVICE = Service.of(
    "events",
    provision,
    observe,
    state=EventBridge,
    answers={"events.PutEvents": _refuse_oversized_events},
    target=Target("events", _put_event),
    iam_resources={"events": _iam_resource},
)
