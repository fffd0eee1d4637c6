"""``AWS::Pipes::Pipe``: kept in moto (``DescribePipe``, ``StartPipe``, ``StopPipe``), moved by the
local cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.services.pipes.pipe import Pipe, PipeRunner

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

KNOWN = {
    "Name",
    "Description",
    "DesiredState",
    "RoleArn",
    "Source",
    "SourceParameters",
    "Enrichment",
    "EnrichmentParameters",
    "Target",
    "TargetParameters",
    "Tags",
}


@provisions("AWS::Pipes::Pipe")
def pipe(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::Pipes::Pipe", props, KNOWN)
    name = props.get("Name") or cloud.physical_name(logical_id, 64)
    runner = cloud.service("pipes").create(logical_id, name, props)
    described = cloud.admin_client("pipes").describe_pipe(Name=name)
    return Provisioned(
        name,
        {
            "Arn": runner.pipe.arn,
            "CreationTime": described["CreationTime"].isoformat(),
            "LastModifiedTime": described["LastModifiedTime"].isoformat(),
            "CurrentState": described["CurrentState"],
            "StateReason": described.get("StateReason", ""),
        },
    )


class Pipes:
    """The pipes of one cloud, by name. Other services reach them as ``kernel.service("pipes")``."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.pipes: dict[str, PipeRunner] = {}

    def create(self, logical_id: str, name: str, props: dict[str, Any]) -> PipeRunner:
        """Make the pipe, its poller (refused if the role may not read the source) and moto's record."""
        pipe = Pipe(self.kernel, logical_id, name, props)
        poller = self.kernel.service("lambda").poller(
            logical_id, f"pipe/{name}", pipe, pipe.mapping, deliver=pipe.process, session=pipe.name
        )
        request: dict[str, Any] = {
            "Name": name,
            "RoleArn": pipe.role_arn,
            "Source": pipe.source,
            "Target": pipe.target,
            "DesiredState": props.get("DesiredState", "RUNNING"),
        }
        for key in (
            "Description",
            "SourceParameters",
            "Enrichment",
            "EnrichmentParameters",
            "TargetParameters",
        ):
            if key in props:
                request[key] = props[key]
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        self.kernel.admin_client("pipes").create_pipe(**request)
        runner = PipeRunner(pipe, poller)
        if request["DesiredState"] == "STOPPED":
            runner.record.status = "STOPPED"
        self.pipes[name] = runner
        self.kernel.add_pollable(runner)
        return runner
