"""CloudWatch Logs: log groups in moto; the local cloud delivers subscription filters' matches."""

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service, Target
from localcloud.core.targets import DeliveryError, text
from localcloud.services.logs import observe, provision, subscription_filters


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    group = params.get("logGroupName")
    if group is None:
        return None
    stream = params.get("logStreamName")
    suffix = f":log-stream:{stream}" if stream else ""
    return resource_arn(partition, "logs", region, account, f"log-group:{group}{suffix}")


def _put(kernel: Any, arn: str, body: str | bytes, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One log event in the group of ``arn`` (``...:log-group:<name>[:*]``), stamped with the virtual clock;
    ``options`` name the stream."""
    if "logStreamName" not in options:
        raise DeliveryError(
            "ValidationException", f"no log stream named for {arn}: only pipes deliver to log groups"
        )
    group = arn.split(":log-group:", 1)[1].split(":", 1)[0]
    event = {"timestamp": int(kernel.clock.now().timestamp() * 1000), "message": text(body)}
    return "put_log_events", {"logGroupName": group, "logEvents": [event], **options}


SERVICE = Service.of(
    "logs",
    provision,
    subscription_filters,
    observe,
    state=observe.Subscriptions,
    target=Target("logs", _put),
    iam_resources={"logs": _iam_resource},
)
