"""CloudWatch Logs: log groups in moto; the local cloud delivers subscription filters' matches."""

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.logs import observe, provision, subscription_filters


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    group = params.get("logGroupName")
    if group is None:
        return None
    stream = params.get("logStreamName")
    suffix = f":log-stream:{stream}" if stream else ""
    return resource_arn(partition, "logs", region, account, f"log-group:{group}{suffix}")


SERVICE = Service.of(
    "logs",
    provision,
    subscription_filters,
    observe,
    state=observe.Subscriptions,
    iam_resources={"logs": _iam_resource},
)
