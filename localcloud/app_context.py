"""The context the CDK CLI gives an app it synthesizes, for ``python -m localcloud serve``.

``serve`` runs the app itself, as ``cdk synth`` would. An app of your own relies on what the CLI
passes it: the ``context`` of ``cdk.json`` (feature flags, settings) and of ``cdk.context.json``,
and asset and path metadata, without which the local cloud cannot find a function's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcloud.testing import SYNTH_CONTEXT


def cli_context(extra: dict[str, Any], folder: str | Path = ".") -> dict[str, Any]:
    """``cdk.context.json``'s context, then ``cdk.json``'s over it, then the metadata and ``extra``."""
    context: dict[str, Any] = {}
    for name, read in (
        ("cdk.context.json", lambda data: data),
        ("cdk.json", lambda data: data.get("context", {})),
    ):
        path = Path(folder) / name
        if path.is_file():
            context.update(read(json.loads(path.read_text())))
    return {**context, **SYNTH_CONTEXT, **extra}
