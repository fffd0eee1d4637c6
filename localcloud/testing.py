"""A local cloud for a CDK app of your own: from an ``App``, a ``Stack`` or a ``cdk.out`` directory.

The pytest plugin (:mod:`localcloud.pytest_plugin`) builds its fixture on :func:`cloud_for`; a
test written for another runner, or a module-scoped fixture, can call it directly::

    with cloud_for(stack) as cloud:
        cloud.drain()

Importing this module costs nothing: the CDK and the cloud load when a cloud is asked for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

#: The context an ``App`` needs to be run offline, as ``cdk synth`` sets it: the asset metadata
#: says where each function's code is, the path metadata lets you name resources by construct path.
SYNTH_CONTEXT = {"aws:cdk:enable-asset-metadata": True, "aws:cdk:enable-path-metadata": True}


def cloud_for(target: Any, stack_name: str | None = None, **kwargs: Any) -> LocalCloud:
    """A local cloud, not yet started, for ``target``: a CDK ``Stack``; an ``App`` (or ``Stage``)
    and the name of one of its stacks; or a cloud assembly directory (``cdk.out``) and a stack
    name. ``stack_name`` may be left out when there is only one stack. ``kwargs`` go to
    :class:`~localcloud.LocalCloud` (``enforce_iam``, ``parameters``, ``start``,
    ``strict_runtime``).

    An ``App`` is synthesized once: the CDK keeps its assembly, so asking again is free.
    """
    from localcloud.cloud import LocalCloud
    from localcloud.core.assembly import load_stack

    if isinstance(target, str | os.PathLike):
        directory = Path(target)
        stack_name = stack_name or _only_stack(directory, str(directory))
    else:
        directory, stack_name = _synthesized(target, stack_name)
        stack_name = _app_stack(directory, stack_name)
    return LocalCloud(load_stack(directory, stack_name), **kwargs)


def cloud_for_stacks(
    target: Any,
    stack_names: list[str] | tuple[str, ...],
    *,
    parameters: dict[str, dict[str, Any]] | None = None,
    **kwargs: Any,
) -> LocalCloud:
    """One local cloud, not yet started, holding several stacks of an ``App`` (or ``cdk.out``) side by
    side, as one account holds them (see :mod:`localcloud.core.stacks`); ``parameters`` by stack name.
    Leaving a stack out of ``stack_names`` is that stack not deployed, or removed."""
    from localcloud.cloud import LocalCloud
    from localcloud.core.stacks import merged, merged_parameters

    if isinstance(target, str | os.PathLike):
        directory = Path(target)
    else:
        directory, _ = _synthesized(target, None)
    return LocalCloud(
        merged(directory, stack_names), parameters=merged_parameters(parameters or {}), **kwargs
    )


def _synthesized(target: Any, stack_name: str | None) -> tuple[Path, str | None]:
    """Synthesize the stage a ``Stack`` or ``Stage`` belongs to; its assembly's directory."""
    try:
        from aws_cdk import Stack, Stage
    except ImportError:  # pragma: no cover: a CDK object cannot exist without the CDK
        raise LocalCloudError(f"{target!r} is not a CDK Stack, App or cdk.out directory") from None
    if isinstance(target, Stack):
        if stack_name not in (None, target.artifact_id, target.stack_name):
            raise LocalCloudError(f"stack_name {stack_name!r} given with the stack {target.artifact_id!r}")
        stage, stack_name = Stage.of(target), target.artifact_id
    elif isinstance(target, Stage):
        stage = target
    else:
        raise LocalCloudError(
            f"{type(target).__name__} is not a CDK Stack, App or Stage, nor a cdk.out directory"
        )
    missing = [key for key in SYNTH_CONTEXT if not stage.node.try_get_context(key)]
    if missing:
        raise LocalCloudError(
            f"the app lacks the context {', '.join(missing)}: create it as "
            "App(context=localcloud.testing.SYNTH_CONTEXT), or with those keys True, "
            "so the cloud can find each function's code"
        )
    return Path(stage.synth().directory), stack_name


def _stacks(directory: Path) -> list[str]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return sorted(
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    )


def _only_stack(directory: Path, where: str) -> str:
    stacks = _stacks(directory)
    if len(stacks) != 1:
        raise LocalCloudError(f"{where} has {len(stacks)} stacks, name one: {', '.join(stacks) or 'none'}")
    return stacks[0]


def _app_stack(directory: Path, stack_name: str | None) -> str:
    """The stack of an App's assembly, named as the app names it: its folder is the CDK's
    temporary one, which the user never chose."""
    if stack_name is None:
        return _only_stack(directory, "the app")
    stacks = _stacks(directory)
    if stack_name not in stacks:
        raise LocalCloudError(
            f"the app has no stack {stack_name!r}; its stacks: {', '.join(stacks) or 'none'}"
        )
    return stack_name
