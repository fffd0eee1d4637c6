"""Read a synthesized stack from a cloud assembly: its template and where each asset lies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.core.assets import extracted, missing
from localcloud.errors import LocalCloudError


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template: dict[str, Any]
    directory: Path
    """The cloud assembly directory: asset paths in resource metadata are relative to it."""
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    """For stacks merged into one (:mod:`localcloud.core.stacks`): each resource's stack and its
    logical id there, so physical names read as that stack's would."""
    account: str | None = None
    region: str | None = None
    """The account and region the stack is bound to (``env=Environment(...)``), which CDK writes
    into its template; None for an environment-agnostic stack."""

    def asset_path(self, logical_id: str) -> Path:
        """The folder a Lambda function or layer was built from (``aws:asset:path`` metadata); a zip
        asset's files, extracted."""
        metadata = self.template["Resources"][logical_id].get("Metadata", {})
        relative = metadata.get("aws:asset:path")
        if relative is None:
            raise LocalCloudError(
                f"{logical_id}: no aws:asset:path metadata; synthesize with asset metadata enabled "
                "(`cdk synth` does; in Python, App(context=localcloud.testing.SYNTH_CONTEXT))"
            )
        path = Path(relative) if Path(relative).is_absolute() else self.directory / relative
        if path.suffix == ".zip" and path.is_file():
            return extracted(path, logical_id)
        if not path.exists():
            raise LocalCloudError(f"{logical_id}: {missing(path)}")
        if not path.is_dir():
            raise LocalCloudError(f"{logical_id}: asset {path} is neither a folder nor a zip file")
        return path

    def construct_path(self, logical_id: str) -> str:
        metadata = self.template["Resources"].get(logical_id, {}).get("Metadata", {})
        return metadata.get("aws:cdk:path", logical_id)


def load_stack(directory: str | Path, stack_name: str) -> StackArtifact:
    """The stack ``stack_name`` of the cloud assembly in ``directory`` (a ``cdk.out``)."""
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    artifact = manifest["artifacts"].get(stack_name)
    if artifact is None or artifact.get("type") != "aws:cloudformation:stack":
        stacks = [n for n, a in manifest["artifacts"].items() if a.get("type") == "aws:cloudformation:stack"]
        raise LocalCloudError(f"no stack {stack_name!r} in {directory}; it has {', '.join(stacks) or 'none'}")
    template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
    account, region = _environment(artifact.get("environment", ""))
    return StackArtifact(stack_name, template, directory, account=account, region=region)


def _environment(environment: str) -> tuple[str | None, str | None]:
    """``aws://111122223333/eu-west-1`` -> its account and region; ``unknown-...``: None."""
    account, _, region = environment.removeprefix("aws://").partition("/")
    return (
        None if account.startswith("unknown-") or not account else account,
        None if region.startswith("unknown-") or not region else region,
    )
