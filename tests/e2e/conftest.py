"""Variant stacks of registered patterns (a construct option the deployed stack does not use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localcloud.core.assembly import StackArtifact, load_stack
from patterns.registry import get
from patterns.stack import PatternStack, new_app


@pytest.fixture(scope="session")
def pattern_variant(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., StackArtifact]:
    """``pattern_variant("internal_handoff", "InternalHandoffOneRetry", retry_attempts=1)``: a
    registered pattern's construct with other props, synthesized once per session, cdk-nag gated
    like the registered stacks."""
    built: dict[str, StackArtifact] = {}

    def synthesize(pattern_id: str, stack_name: str, **props: Any) -> StackArtifact:
        if stack_name not in built:
            outdir = tmp_path_factory.mktemp(f"cdk-{stack_name}")
            app = new_app(builtin_validation=False, outdir=str(outdir))
            PatternStack(app, get(pattern_id), stack_name=stack_name, props=props)
            app.synth()
            built[stack_name] = load_stack(outdir, stack_name)
        return built[stack_name]

    return synthesize
