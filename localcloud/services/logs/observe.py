"""CloudWatch Logs subscription filters: the log events of a PutLogEvents call that match a filter
go to its destination, as AWS sends them: a gzip'd JSON ``DATA_MESSAGE`` (``owner``, ``logGroup``,
``logStream``, ``subscriptionFilters``, ``logEvents`` of ``id``, ``timestamp``, ``message``, and
``extractedFields`` when the filter is space-delimited), one per call and filter.

- A Lambda destination is invoked asynchronously with ``{"awslogs": {"data": <base64>}}``, so the
  function's own retries and DLQ apply; it needs a permission for ``logs.amazonaws.com``, which
  the provisioner checks as AWS checks it when the filter is created.
- A Kinesis or Firehose destination gets the gzip'd data as the record, with the filter's role.
- Filter patterns: see :mod:`localcloud.lib.log_patterns`.

The filters are kept by the local cloud, not moto: moto would invoke a Lambda destination in its own
Lambda, which needs Docker. So DescribeSubscriptionFilters answers empty.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.core.service import observes
from localcloud.core.targets import Delivery, RetryPolicy, Sender, service_of
from localcloud.lib.log_patterns import Matcher

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

LOGS = "logs.amazonaws.com"


@dataclass
class SubscriptionFilter:
    name: str
    log_group: str
    matcher: Matcher
    destination: str
    role_arn: str | None = None


class Subscriptions:
    """The subscription filters of one cloud's log groups."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.filters: list[SubscriptionFilter] = []
        self._event_ids = itertools.count(1)

    def sender(self, log_group: str, role_arn: str | None = None) -> Sender:
        cloud = self.cloud
        arn = f"arn:{cloud.partition}:logs:{cloud.region}:{cloud.account}:log-group:{log_group}:*"
        return Sender(LOGS, arn, f"logs:{log_group}", role_arn=role_arn)

    def deliver(self, params: dict[str, Any], *, cause: int | None) -> None:
        """Send the events of one PutLogEvents call on, to each subscription that matches some."""
        group = params["logGroupName"]
        for subscription in (f for f in self.filters if f.log_group == group):
            events = [e for e in params.get("logEvents", []) if subscription.matcher(e["message"])]
            if events:
                self._send(subscription, params["logStreamName"], events, cause)

    def _send(
        self, subscription: SubscriptionFilter, stream: str, events: list[dict[str, Any]], cause: int | None
    ) -> None:
        message = {
            "messageType": "DATA_MESSAGE",
            "owner": self.cloud.account,
            "logGroup": subscription.log_group,
            "logStream": stream,
            "subscriptionFilters": [subscription.name],
            "logEvents": [self._log_event(subscription, e) for e in events],
        }
        data = gzip.compress(json.dumps(message).encode(), mtime=0)
        service = service_of(subscription.destination)
        if service == "lambda":
            body: str | bytes = json.dumps({"awslogs": {"data": base64.b64encode(data).decode()}})
            sender = self.sender(subscription.log_group)
        else:
            body, sender = data, self.sender(subscription.log_group, subscription.role_arn)
        Delivery(
            self.cloud,
            sender,
            subscription.destination,
            body,
            policy=RetryPolicy(),
            what=f"{len(events)} log event(s) of {subscription.name}",
            cause=cause,
            options={"PartitionKey": stream} if service == "kinesis" else {},
        ).start()

    def _log_event(self, subscription: SubscriptionFilter, event: dict[str, Any]) -> dict[str, Any]:
        sent = {"id": self._event_id(event["timestamp"]), "timestamp": event["timestamp"]}
        sent["message"] = event["message"]
        extract = getattr(subscription.matcher, "extract", None)
        if extract is not None:
            sent["extractedFields"] = extract(event["message"])
        return sent

    def _event_id(self, timestamp: int) -> str:
        """An event id of AWS's shape: 56 digits, unique."""
        return f"{timestamp:020d}{next(self._event_ids):036d}"


def subscriptions(cloud: Kernel) -> Subscriptions:
    """CloudWatch Logs' state in this cloud (its service's ``state``)."""
    return cloud.service("logs")


@observes("logs", "PutLogEvents")
def log_events_put(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _, parent = cloud.caller()
    subscriptions(cloud).deliver(params, cause=parent)
