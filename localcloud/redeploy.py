"""Swap a running stack for a new synthesis of it, keeping the data of the resources that stayed.

What a redeploy keeps, by logical id (the resource survived when its logical id and type did):
DynamoDB items, SQS messages (visible, delayed and in flight, with their receive counts), S3
objects (their latest version, with content type and metadata) and, when the secret's template entry is
unchanged, a Secrets Manager secret's current value. Physical names derive from the stack name and
the logical id, so a kept resource has the same name, URL and ARN after the swap. Everything else
starts afresh from the new template: custom resources are created again (a Create, not an Update;
the old cloud sends them no Delete), functions are cold, timers and retries in flight, Step
Functions executions, log events and stream records are gone, and the trace starts empty.

The swap snapshots the data from moto, stops the old cloud, starts one on the new template at the
old cloud's moment (so message timestamps and visibility timeouts carry on), and writes the data
back through moto's backends, so no observer, stream or notification fires for it. A new template
that does not start leaves the old one running again, data restored.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.core.assembly import StackArtifact
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalServer


class RedeployFailed(LocalCloudError):
    """The new template did not start; :attr:`cloud` is the old one, running again with its data."""

    def __init__(self, error: BaseException, cloud: LocalCloud) -> None:
        super().__init__(f"the new template did not start, the old one serves on: {error}")
        self.cloud = cloud


#: The properties holding a function's or a layer's code: a change there is a code change.
CODE_PROPERTIES = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}


@dataclass
class Changes:
    """What a new template changes, by logical id."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    code_changed: list[str] = field(default_factory=list)
    """Functions and layers whose code changed (also listed in ``changed``)."""
    via_layers: list[str] = field(default_factory=list)
    """Functions whose own code is the same but one of whose layers' code changed."""
    kept: dict[str, str] = field(default_factory=dict)
    """Logical id -> what of its data the swap kept (``3 items``), for data-bearing resources."""
    lost: dict[str, str] = field(default_factory=dict)
    """Logical id -> why its data could not be written back (a changed key schema...)."""
    outputs_changed: bool = False
    """Whether the template's outputs changed: CloudFormation updates a stack for that alone."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Output name -> its value after the swap, for each output added or whose value changed."""
    outputs_removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """How long the swap took, in wall-clock seconds."""

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs_changed)

    def lines(self) -> list[str]:
        lines = [
            f"{label}: {', '.join(ids)}"
            for label, ids in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", [i for i in self.changed if i not in self.code_changed]),
                ("code changed", self.code_changed),
                ("code changed through a layer", self.via_layers),
            )
            if ids
        ]
        if not (self.added or self.removed or self.changed):
            lines.append("no resource changed")
        if self.kept:
            lines.append("kept: " + ", ".join(f"{i} ({what})" for i, what in self.kept.items()))
        if self.outputs:
            lines.append("outputs: " + ", ".join(f"{name} = {value}" for name, value in self.outputs.items()))
        if self.outputs_removed:
            lines.append(f"outputs removed: {', '.join(self.outputs_removed)}")
        lines.extend(f"lost the data of {i}: {why}" for i, why in self.lost.items())
        return lines


def diff(old: dict[str, Any], new: dict[str, Any]) -> Changes:
    """The resources ``new`` adds, removes and changes against ``old`` (two templates)."""
    before, after = old.get("Resources", {}), new.get("Resources", {})
    changes = Changes(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        outputs_changed=old.get("Outputs") != new.get("Outputs"),
    )
    for logical_id in sorted(set(before) & set(after)):
        if _comparable(before[logical_id]) != _comparable(after[logical_id]):
            changes.changed.append(logical_id)
            code = CODE_PROPERTIES.get(after[logical_id]["Type"])
            if code and _code(before[logical_id], code) != _code(after[logical_id], code):
                changes.code_changed.append(logical_id)
    layers = {i for i in changes.code_changed if after[i]["Type"] == "AWS::Lambda::LayerVersion"}
    changes.via_layers = [
        logical_id
        for logical_id, resource in sorted(after.items())
        if resource["Type"] == "AWS::Lambda::Function"
        and logical_id not in changes.code_changed
        and layers & {layer.get("Ref") for layer in _layer_refs(resource)}
    ]
    return changes


def _layer_refs(function: dict[str, Any]) -> list[dict[str, Any]]:
    layers = function.get("Properties", {}).get("Layers", [])
    return [layer for layer in layers if isinstance(layer, dict)]


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without its metadata, which names the staging folder of each synth."""
    return {key: value for key, value in resource.items() if key != "Metadata"}


def _code(resource: dict[str, Any], prop: str) -> Any:
    return resource.get("Properties", {}).get(prop)


# ---------------------------------------------------------------------------------------- data


Snapshot = dict[str, tuple[str, Any]]
"""Logical id -> (resource type, its data as :func:`snapshot` took it)."""


def snapshot(cloud: LocalCloud) -> Snapshot:
    """The data of every data-bearing resource of a running cloud, by logical id."""
    taken: Snapshot = {}
    for logical_id, resource in cloud.artifact.template.get("Resources", {}).items():
        take = _TAKE.get(resource["Type"])
        if take is not None and logical_id in cloud.resources:
            taken[logical_id] = (resource["Type"], take(cloud, cloud.physical_id(logical_id)))
    return taken


def restore(cloud: LocalCloud, taken: Snapshot, changes: Changes) -> None:
    """Write ``taken`` back into the resources of ``cloud`` that kept their logical id and type;
    note in ``changes`` what was kept, and what could not be."""
    template = cloud.artifact.template.get("Resources", {})
    for logical_id, (resource_type, data) in taken.items():
        if logical_id not in cloud.resources or template[logical_id]["Type"] != resource_type:
            continue
        if resource_type in REPLACED_WHEN_CHANGED and logical_id in changes.changed:
            continue
        try:
            what = _PUT[resource_type](cloud, cloud.physical_id(logical_id), data)
        except Exception as error:  # the swap goes on; the report names the loss
            changes.lost[logical_id] = f"{type(error).__name__}: {error}"
        else:
            if what:
                changes.kept[logical_id] = what
    # CDK's bucket deployments the new template changed sync again over the kept objects, as updates.
    changes.lost.update(cloud.service("cdk").update([*changes.changed, *changes.added]))


#: Types whose data the template itself sets: a changed entry sets it anew, as an update would.
REPLACED_WHEN_CHANGED = {"AWS::SecretsManager::Secret"}


def _backend(service: str, cloud: LocalCloud) -> Any:
    import importlib

    backends = getattr(importlib.import_module(f"moto.{service}.models"), f"{service}_backends")
    return backends[cloud.account][cloud.partition if service == "s3" else cloud.region]


def _take_items(cloud: LocalCloud, table_name: str) -> list[dict[str, Any]]:
    table = _backend("dynamodb", cloud).get_table(table_name)
    return [item.to_json()["Attributes"] for item in table.all_items()]


def _put_items(cloud: LocalCloud, table_name: str, items: list[dict[str, Any]]) -> str:
    table = _backend("dynamodb", cloud).get_table(table_name)
    shard, table.stream_shard = table.stream_shard, None  # kept items are not new writes
    try:
        for item in items:
            table.put_item(item)
    finally:
        table.stream_shard = shard
    return _count(len(items), "item")


def _take_messages(cloud: LocalCloud, queue_url: str) -> tuple[list[Any], set[str]]:
    queue = _backend("sqs", cloud).get_queue(queue_url.rsplit("/", 1)[-1])
    return list(queue._messages), set(getattr(queue, "_pending_messages", ()))


def _put_messages(cloud: LocalCloud, queue_url: str, data: tuple[list[Any], set[str]]) -> str:
    messages, pending = data
    queue = _backend("sqs", cloud).get_queue(queue_url.rsplit("/", 1)[-1])
    with queue._messages_lock:
        queue._messages.extend(messages)
        if hasattr(queue, "_pending_messages"):
            queue._pending_messages.update(pending)
    return _count(len(messages), "message")


def _take_objects(cloud: LocalCloud, bucket_name: str) -> list[tuple[str, bytes, dict[str, str]]]:
    from moto.s3.models import FakeDeleteMarker

    bucket = _backend("s3", cloud).get_bucket(bucket_name)
    return [
        (name, key.value, dict(key.metadata))
        for name, key in bucket.keys.items()
        if key is not None and not isinstance(key, FakeDeleteMarker)  # a deleted object of a versioned bucket
    ]


def _put_objects(
    cloud: LocalCloud, bucket_name: str, objects: list[tuple[str, bytes, dict[str, str]]]
) -> str:
    backend = _backend("s3", cloud)
    for name, value, metadata in objects:
        backend.put_object(bucket_name, name, value, disable_notification=True).set_metadata(metadata)
    return _count(len(objects), "object")


def _take_secret(cloud: LocalCloud, arn: str) -> dict[str, Any]:
    value = cloud.admin_client("secretsmanager").get_secret_value(SecretId=arn)
    return {key: value[key] for key in ("SecretString", "SecretBinary") if key in value}


def _put_secret(cloud: LocalCloud, arn: str, value: dict[str, Any]) -> str:
    if _take_secret(cloud, arn) != value:
        cloud.admin_client("secretsmanager").put_secret_value(SecretId=arn, **value)
    return "its value"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}" if n else ""


_TAKE: dict[str, Callable[[LocalCloud, str], Any]] = {
    "AWS::DynamoDB::Table": _take_items,
    "AWS::SQS::Queue": _take_messages,
    "AWS::S3::Bucket": _take_objects,
    "AWS::SecretsManager::Secret": _take_secret,
}
_PUT: dict[str, Callable[[LocalCloud, str, Any], str]] = {
    "AWS::DynamoDB::Table": _put_items,
    "AWS::SQS::Queue": _put_messages,
    "AWS::S3::Bucket": _put_objects,
    "AWS::SecretsManager::Secret": _put_secret,
}


# ---------------------------------------------------------------------------------------- swap


def redeploy(cloud: LocalCloud, artifact: StackArtifact) -> tuple[LocalCloud, Changes]:
    """Stop ``cloud`` and start ``artifact`` in its place, its surviving resources' data kept.

    If the new template does not start, the old one is started again with all its data and
    :class:`RedeployFailed` carries it.
    """
    started = os.times().elapsed
    changes = diff(cloud.artifact.template, artifact.template)
    taken = snapshot(cloud)
    outputs = dict(cloud.outputs)
    moment = cloud.clock.now()
    cloud.kernel.stop(tear_down=False)  # replaced, not deleted: its custom resources get no Delete
    successor = _like(cloud, artifact, moment)
    try:
        successor.start()
    except Exception as error:
        raise RedeployFailed(error, _reopen(cloud, moment, taken)) from error
    restore(successor, taken, changes)
    changes.outputs = {k: str(v) for k, v in successor.outputs.items() if outputs.get(k) != v}
    changes.outputs_removed = sorted(set(outputs) - set(successor.outputs))
    changes.seconds = os.times().elapsed - started
    return successor, changes


def _like(cloud: LocalCloud, artifact: StackArtifact, moment: Any) -> LocalCloud:
    from localcloud.cloud import LocalCloud

    return LocalCloud(
        artifact,
        region=cloud.region,
        account=cloud.account,
        start=moment,
        parameters=cloud.kernel.parameter_overrides,
        enforce_iam=cloud.enforce_iam,
        strict_runtime=cloud.kernel.strict_runtime,
    )


def _reopen(cloud: LocalCloud, moment: Any, taken: Snapshot) -> LocalCloud:
    """The old template started again, its data written back: what serves after a failed swap."""
    again = _like(cloud, cloud.artifact, moment)
    again.start()
    restore(again, taken, Changes())
    return again


def swap(server: LocalServer, artifact: StackArtifact) -> Changes:
    """Redeploy the cloud ``server`` serves, between two requests, keeping every front door's port.

    A front door that stays (same kind, logical id and stage) keeps its port and answers from the
    new stack; a new one gets a free port; a removed one stops listening. On a failed start the
    server goes on serving the old stack, started again, and :class:`RedeployFailed` is raised.
    """
    with server.lock:
        server.settle()  # a request waiting on a backend finishes on the stack it began on
        try:
            server.cloud, changes = redeploy(server.cloud, artifact)
        except RedeployFailed as failure:
            server.cloud = failure.cloud
            raise
        finally:
            _rebind(server)
        return changes


def _rebind(server: LocalServer) -> None:
    """Point the server's front doors at its (new) cloud, by door, keeping ports."""
    server._seen_spans = len(server.cloud.trace.spans)
    fresh = {_door_key(door): door for door in server.doors_of(server.cloud)}
    for door, listener in list(zip(server.front_doors, server._servers, strict=True)):
        new = fresh.pop(_door_key(door), None)
        if new is None:
            server.front_doors.remove(door)
            server._servers.remove(listener)
            server._retired.append(listener)
            continue
        door.name, door.dispatch, door.resource_id = new.name, new.dispatch, new.resource_id
    for door in fresh.values():
        server.add_front_door(door)


def _door_key(door: Any) -> tuple[str, str, str]:
    """What identifies a front door across synths: its kind, logical id and stage."""
    return door.kind, door.name.split(" ", 1)[0], door.base_path
