"""CloudWatch Logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@provisions("AWS::Logs::LogGroup")
def log_group(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("LogGroupName") or f"/aws/{cloud.stack_name}/{cloud.physical_name(logical_id, 64)}"
    logs = cloud.admin_client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = f"arn:{cloud.partition}:logs:{cloud.region}:{cloud.account}:log-group:{name}:*"
    return Provisioned(name, {"Arn": arn})


@provisions("AWS::Logs::LogStream")
def log_stream(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("LogStreamName") or cloud.physical_name(logical_id, 512)
    cloud.admin_client("logs").create_log_stream(logGroupName=props["LogGroupName"], logStreamName=name)
    return Provisioned(name)
