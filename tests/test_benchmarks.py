"""The benchmark reads the synthesized templates: check it still finds every function as Lambda would."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench import HELLO_WORLD, asset_size, discover_functions, lambda_environment
from patterns.registry import PATTERNS

pytestmark = pytest.mark.infra


def test_every_registered_function_is_found_with_its_code_layer_and_environment(cloud_assembly):
    functions, skipped = discover_functions(Path(cloud_assembly.directory))
    assert skipped == []
    assert {f.source for f in functions} == {
        f"functions/{folder}" for p in PATTERNS for folder in p.functions
    }
    for function in functions:
        assert (function.code / f"{function.module}.py").is_file(), function.label
        assert function.layers and all(layer.name == "python" for layer in function.layers), "as /opt/python"
        shared = [layer for layer in function.layers if (layer / "shared" / "observability.py").is_file()]
        assert len(shared) == 1, f"{function.label}: the shared layer, once"
        assert "POWERTOOLS_SERVICE_NAME" in function.environment


def test_tokens_in_the_environment_become_plausible_values():
    env = lambda_environment({"QUEUE_URL": {"Ref": "Queue"}, "TABLE_NAME": {"Ref": "T"}, "LEVEL": "INFO"})
    assert env["QUEUE_URL"].startswith("https://sqs.")
    assert env["LEVEL"] == "INFO" and isinstance(env["TABLE_NAME"], str)


def test_asset_size_counts_the_files_and_their_zip():
    total, zipped = asset_size(HELLO_WORLD.code)
    assert total == sum(p.stat().st_size for p in HELLO_WORLD.code.rglob("*") if p.is_file())
    assert zipped > 0
