"""Lambda's GetEventSourceMapping and UpdateEventSourceMapping, answered from the running pollers.

moto's Lambda never sees the mappings (the local cloud keeps them), so these calls are answered
here, with every setting AWS answers (Lambda's defaults for those the template leaves out, a
stream's settings for a stream's mapping). ``Enabled`` is what UpdateEventSourceMapping may change offline: a disabled mapping's poller
receives nothing (its queue keeps every message, no receive is counted) until it is enabled again.
As on AWS, the update answers ``Disabling`` or ``Enabling`` and a later GetEventSourceMapping
``Disabled`` or ``Enabled``; offline the change is in effect at once, where AWS takes seconds. Any
other field is refused by name, never silently dropped. IAM names the mapping
``arn:<partition>:lambda:<region>:<account>:event-source-mapping:<UUID>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core import hooks
from localcloud.core.iam import resource_arn
from localcloud.core.service import checks_only
from localcloud.errors import Unsupported, aws_error
from localcloud.services.lambda_.event_sources.limits import mapping_refusal, source_service

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel, Pollable
    from localcloud.core.service import AwsCall
    from localcloud.services.lambda_.runtime import LambdaFunction

#: What UpdateEventSourceMapping may change offline, besides which mapping (``UUID``).
UPDATABLE = {"Enabled"}
#: A stream mapping's settings with what Lambda answers for them when the template leaves them out.
STREAM_DEFAULTS = {
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "TumblingWindowInSeconds": 0,
}


@dataclass
class Mapping:
    """One event source mapping of the template and the poller that runs it."""

    logical_id: str
    uuid: str
    function: LambdaFunction
    props: dict[str, Any]
    poller: Pollable
    last_modified: datetime

    def arn(self, kernel: Kernel) -> str:
        return mapping_arn(kernel.partition, kernel.region, kernel.account, self.uuid)

    def describe(self, kernel: Kernel, state: str) -> dict[str, Any]:
        props = self.props
        described: dict[str, Any] = {
            "UUID": self.uuid,
            "EventSourceArn": props["EventSourceArn"],
            "FunctionArn": self.function.arn,
            "LastModified": self.last_modified,
            "State": state,
            "StateTransitionReason": "USER_INITIATED",
            "EventSourceMappingArn": self.arn(kernel),
            "FunctionResponseTypes": list(props.get("FunctionResponseTypes", [])),
        }
        poller: Any = self.poller
        described["BatchSize"] = poller.batch_size
        described["MaximumBatchingWindowInSeconds"] = int(props.get("MaximumBatchingWindowInSeconds", 0))
        for name in ("ScalingConfig", "FilterCriteria"):
            if name in props:
                described[name] = props[name]
        if hasattr(poller, "shards"):  # a stream's mapping: AWS answers each of its settings
            described.update(
                {name: type(default)(props.get(name, default)) for name, default in STREAM_DEFAULTS.items()},
                StartingPosition=props.get("StartingPosition", "TRIM_HORIZON"),
                DestinationConfig=props.get("DestinationConfig", {"OnFailure": {}}),
            )
            if "StartingPositionTimestamp" in props:
                described["StartingPositionTimestamp"] = props["StartingPositionTimestamp"]
        return described


def mapping_arn(partition: str, region: str, account: str, uuid: str) -> str:
    return resource_arn(partition, "lambda", region, account, f"event-source-mapping:{uuid}")


@checks_only("CreateEventSourceMapping", "UpdateEventSourceMapping")
def check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """Refuse settings Lambda refuses (:mod:`localcloud.services.lambda_.event_sources.limits`); an
    update is judged with the settings of the mapping it changes, when the cloud runs it."""
    settings, source = params, source_service(params.get("EventSourceArn"))
    mapping = _mapping(kernel, params.get("UUID"))
    if mapping is not None:
        settings = {**mapping.props, **params}
        source = source_service(mapping.props.get("EventSourceArn"))
    model = kernel.admin_client("lambda").meta.service_model
    refusal = mapping_refusal(model, settings, source, minimums=False)
    if refusal is not None:
        raise aws_error(*refusal, operation)


def _not_found(uuid: Any) -> tuple[int, dict[str, Any]]:
    return 404, {
        "Error": {
            "Code": "ResourceNotFoundException",
            "Message": f"The resource you requested does not exist. (Service: Lambda, UUID {uuid})",
        },
        "ResponseMetadata": {"HTTPStatusCode": 404},
    }


def _mapping(kernel: Kernel, uuid: Any) -> Mapping | None:
    return kernel.service("lambda").mappings.get(uuid) if isinstance(uuid, str) else None


def answer_get(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    mapping = _mapping(kernel, call.params.get("UUID"))
    if mapping is None:
        return _not_found(call.params.get("UUID"))
    state = "Enabled" if mapping.poller.enabled else "Disabled"  # type: ignore[attr-defined]
    return 200, {**mapping.describe(kernel, state), "ResponseMetadata": {"HTTPStatusCode": 200}}


def answer_update(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    params = call.params
    mapping = _mapping(kernel, params.get("UUID"))
    if mapping is None:
        return _not_found(params.get("UUID"))
    others = sorted(set(params) - UPDATABLE - {"UUID"})
    if others:
        raise Unsupported(mapping.logical_id, f"UpdateEventSourceMapping of {', '.join(others)} offline")
    state = "Updating"
    if "Enabled" in params:
        enabled = bool(params["Enabled"])
        mapping.poller.enabled = enabled  # type: ignore[attr-defined]
        state = "Enabling" if enabled else "Disabling"
        caller = hooks.principal()
        kernel.trace.record(
            "mapping",
            caller.session if caller else "sdk",
            mapping.function.name,
            f"event source mapping {mapping.uuid} {'enabled' if enabled else 'disabled'}",
            at=kernel.clock.elapsed(),
            parent=caller.span if caller else None,
        )
    mapping.last_modified = kernel.clock.now()
    return 202, {**mapping.describe(kernel, state), "ResponseMetadata": {"HTTPStatusCode": 202}}
