"""S3 event notifications: an object created or removed notifies each function, queue and topic whose
configuration matches the event and the key, and EventBridge when the bucket sends to it.

moto notifies SQS, SNS and EventBridge rules itself, without asking the destination's policy, and
cannot invoke a function offline. So a bucket's notification configuration stays with the local
cloud (moto's buckets have none, and notify nothing) and each event is delivered here, once.

As in AWS, putting the configuration validates it: S3 sends ``s3:TestEvent`` to each queue and
topic and checks each function's permission; a destination that refuses fails the deployment.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from localcloud.core import delivery, targets
from localcloud.core.service import observes
from localcloud.errors import LocalCloudError, TemplateError
from localcloud.services.s3 import filters

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: The configuration lists of the S3 API, with the key naming each one's destination.
DESTINATION_LISTS = {
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
    "QueueConfigurations": "QueueArn",
    "TopicConfigurations": "TopicArn",
}
#: The subject S3 gives the messages it publishes to a topic.
SUBJECT = "Amazon S3 Notification"
#: What the EventBridge event's ``reason`` says, by the operation that created the object.
REASONS = {
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}

_sequencer = itertools.count(1)


@dataclass
class Destination:
    arn: str
    events: list[str]
    configuration_id: str
    prefix: str = ""
    suffix: str = ""

    def wants(self, event_name: str, key: str) -> bool:
        """Whether an event (``ObjectCreated:Put``) on ``key`` matches this configuration."""
        name = f"s3:{event_name}"
        selected = any(e == name or (e.endswith("*") and name.startswith(e[:-1])) for e in self.events)
        return selected and key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass
class Notifications:
    destinations: list[Destination] = field(default_factory=list)
    event_bridge: bool = False


class Buckets(dict[str, "Notifications"]):
    """S3's state in one cloud: each bucket's notification configuration, by bucket name."""

    def __init__(self, cloud: Kernel) -> None:
        super().__init__()


def buckets(cloud: Kernel) -> Buckets:
    return cloud.service("s3")


"""The notification configuration of each bucket of the stack, by bucket name."""


def configure(
    cloud: Kernel,
    bucket: str,
    configuration: dict[str, Any],
    *,
    replace: bool,
    validate: bool,
    where: str,
) -> None:
    """Take a ``NotificationConfiguration`` in the S3 API's form, replacing or adding to the bucket's."""
    notifications = buckets(cloud).setdefault(bucket, Notifications())
    if replace:
        notifications.destinations.clear()
        notifications.event_bridge = False
    added = []
    for list_name, arn_key in DESTINATION_LISTS.items():
        for index, item in enumerate(configuration.get(list_name, [])):
            rules = {
                r["Name"].lower(): r["Value"]
                for r in item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            }
            added.append(
                Destination(
                    arn=item[arn_key],
                    events=item["Events"],
                    configuration_id=item.get("Id") or cloud.short_id(f"{bucket}/{list_name}/{index}", 16),
                    prefix=rules.get("prefix", ""),
                    suffix=rules.get("suffix", ""),
                )
            )
    clash = filters.overlapping([*notifications.destinations, *added])
    if clash is not None:
        both = [*notifications.destinations, *added]
        raise TemplateError(
            f"{where}: {filters.AMBIGUOUS} ({both[clash[0]].configuration_id} and "
            f"{both[clash[1]].configuration_id} on bucket {bucket})"
        )
    if validate:
        _validate(cloud, bucket, added, where)
    notifications.destinations.extend(added)
    notifications.event_bridge = notifications.event_bridge or "EventBridgeConfiguration" in configuration


def _validate(cloud: Kernel, bucket: str, destinations: list[Destination], where: str) -> None:
    """S3's check of a new configuration: a test event to queues and topics, a look at functions."""
    sender = _sender(cloud, bucket)
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": delivery.timestamp(cloud),
        "Bucket": bucket,
        "RequestId": _request_id(),
        "HostId": _request_id(),
    }
    refused = []
    for destination in destinations:
        if targets.service_of(destination.arn) == "lambda":
            reason = delivery.function_refusal(cloud, sender, destination.arn)
        else:
            span = delivery.deliver(
                cloud,
                sender,
                destination.arn,
                json.dumps(test_event),
                cause=None,
                detail="s3:TestEvent",
                **_message_options(destination.arn),
            )
            reason = span.data.get("reason")
        if reason:
            refused.append(f"{destination.arn}: {reason}")
    if refused:
        raise TemplateError(
            f"{where}: Unable to validate the following destination configurations: {'; '.join(refused)}"
        )


# ---------------------------------------------------------------------------------------- observers


@observes("s3", "PutObject")
def object_put(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _created(cloud, params, parsed, "ObjectCreated:Put")


@observes("s3", "CopyObject")
def object_copied(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _created(cloud, params, parsed, "ObjectCreated:Copy")


@observes("s3", "CompleteMultipartUpload")
def upload_completed(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _created(cloud, params, parsed, "ObjectCreated:CompleteMultipartUpload")


@observes("s3", "DeleteObject")
def object_deleted(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _removed(cloud, params["Bucket"], params["Key"], params.get("VersionId"), parsed)


@observes("s3", "DeleteObjects")
def objects_deleted(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    requested = {o["Key"]: o.get("VersionId") for o in params["Delete"]["Objects"]}
    for deleted in parsed.get("Deleted", []):
        _removed(cloud, params["Bucket"], deleted["Key"], requested.get(deleted["Key"]), deleted)


@observes("s3", "PutBucketNotificationConfiguration")
def configured_at_runtime(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """moto would notify a configuration put at runtime itself, beside the local cloud: refuse it."""
    if params["Bucket"] in buckets(cloud):
        raise LocalCloudError(
            f"PutBucketNotificationConfiguration on {params['Bucket']}: the local cloud delivers the "
            "notifications of the template only; declare them in the stack"
        )


def _created(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any], event_name: str) -> None:
    if params["Bucket"] not in buckets(cloud):
        return
    from moto.s3.models import s3_backends

    version = parsed.get("VersionId")
    stored = s3_backends[cloud.account][cloud.partition].get_object(params["Bucket"], params["Key"], version)
    assert stored is not None, f"{params['Bucket']}/{params['Key']} was just written"
    obj = {"key": params["Key"], "size": stored.size, "eTag": stored.etag.strip('"')}
    _notify(cloud, params["Bucket"], event_name, obj, version)


def _removed(
    cloud: Kernel, bucket: str, key: str, requested_version: str | None, response: dict[str, Any]
) -> None:
    if bucket not in buckets(cloud):
        return
    marker = bool(response.get("DeleteMarker")) and requested_version is None
    event_name = "ObjectRemoved:DeleteMarkerCreated" if marker else "ObjectRemoved:Delete"
    version = response.get("DeleteMarkerVersionId") or response.get("VersionId")
    _notify(cloud, bucket, event_name, {"key": key}, version)


# ---------------------------------------------------------------------------------------- delivering


def _notify(cloud: Kernel, bucket: str, event_name: str, obj: dict[str, Any], version: str | None) -> None:
    notifications = buckets(cloud)[bucket]
    wanted = [d for d in notifications.destinations if d.wants(event_name, obj["key"])]
    if not wanted and not notifications.event_bridge:
        return
    obj = {**obj, **({"versionId": version} if version else {}), "sequencer": f"{next(_sequencer):018X}"}
    source, parent = cloud.caller()
    span = cloud.trace.record(
        "event", source, f"s3:{bucket}", f"{event_name} {obj['key']}", at=cloud.clock.elapsed(), parent=parent
    )
    sender = _sender(cloud, bucket)
    for destination in wanted:
        event = {"Records": [_record(cloud, bucket, event_name, obj, destination.configuration_id, source)]}
        delivery.deliver(
            cloud,
            sender,
            destination.arn,
            json.dumps(event),
            cause=span.id,
            detail=event_name,
            **_message_options(destination.arn),
        )
    if notifications.event_bridge:
        _to_event_bridge(cloud, sender, event_name, obj, span.id)


def _record(
    cloud: Kernel,
    bucket: str,
    event_name: str,
    obj: dict[str, Any],
    configuration_id: str,
    requester: str,
) -> dict[str, Any]:
    """One record of the event S3 sends to a function, queue or topic (the key URL-encoded)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": cloud.region,
        "eventTime": delivery.timestamp(cloud),
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{requester}"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": _request_id(), "x-amz-id-2": uuid.uuid4().hex},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": _owner(cloud)},
                "arn": f"arn:{cloud.partition}:s3:::{bucket}",
            },
            "object": {**obj, "key": quote_plus(obj["key"], safe="/")},
        },
    }


def _to_event_bridge(
    cloud: Kernel, sender: targets.Sender, event_name: str, obj: dict[str, Any], cause: int
) -> None:
    """S3 puts an event on the account's default bus for every object event; rules select from it."""
    created = event_name.startswith("ObjectCreated")
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": sender.source_arn.rsplit(":", 1)[-1]},
        "object": {
            "key": obj["key"],
            **({"size": obj["size"], "etag": obj["eTag"]} if created else {}),
            **({"version-id": obj["versionId"]} if "versionId" in obj else {}),
            "sequencer": obj["sequencer"],
        },
        "request-id": _request_id(),
        "requester": cloud.account,
        "source-ip-address": "127.0.0.1",
        "reason": REASONS.get(event_name, "DeleteObject"),
    }
    if not created:
        marker = event_name.endswith("DeleteMarkerCreated")
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    delivery.deliver(
        cloud,
        sender,
        f"arn:{cloud.partition}:events:{cloud.region}:{cloud.account}:event-bus/default",
        json.dumps(detail),
        cause=cause,
        detail=event_name,
        Source="aws.s3",
        DetailType="Object Created" if created else "Object Deleted",
        Resources=[sender.source_arn],
        Time=cloud.clock.now(),
    )


def _sender(cloud: Kernel, bucket: str) -> targets.Sender:
    return delivery.service_sender(cloud, "s3", f"arn:{cloud.partition}:s3:::{bucket}")


def _message_options(arn: str) -> dict[str, Any]:
    """What S3 adds to a message for a topic: its subject (a queue message has none)."""
    return {"Subject": SUBJECT} if targets.service_of(arn) == "sns" else {}


def _owner(cloud: Kernel) -> str:
    """The bucket owner's canonical-style id, stable for the account."""
    return f"A{cloud.short_id(cloud.account, 13).upper()}"


def _request_id() -> str:
    return uuid.uuid4().hex[:16].upper()
