"""Unit tests run one handler module at a time against moto, as Lambda would load it."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from moto import mock_aws

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(scope="session", autouse=True)
def same_answers_done_once() -> None:
    """The local cloud's speedups (:mod:`localcloud.core.speedups`) here too, where handlers run
    against moto without a cloud: each handler's fresh load makes new clients, whose copy of the
    event emitter aliased every event name anew (a tenth of the unit tests' time), and compiled its
    source again; freezegun fingerprinted every module at each start; moto made its callbacks for
    ``requests`` again at each start (:mod:`localcloud.core.moto_mock`). A worker that has run a
    local-cloud test already had them, so unit tests no longer depend on what ran before."""
    from localcloud.core import moto_mock, speedups

    speedups.install()
    moto_mock.install()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto with fresh data per test, on one boto3 session per process, as a Lambda environment has.

    moto's default gives boto3 a new default session at each start, and each new session reads and
    decodes its service models again: that cost a unit test a tenth of a second.
    """
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Import ``functions/<code_dir>/<module>.py`` fresh, with the given environment.

    Module-level code (clients, configuration) runs on each load, like a cold start. So does that
    of the folder's other modules (``principals`` for gatekeeper's authorizer): a module of that
    name another test imported from elsewhere (a copy with another token format) is not reused.
    """

    def load(code_dir: str, module: str, **environment: str) -> ModuleType:
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.syspath_prepend(str(FUNCTIONS / code_dir))
        for source in (FUNCTIONS / code_dir).glob("*.py"):
            sys.modules.pop(source.stem, None)
        sys.modules.pop(module, None)
        return importlib.import_module(module)

    return load


@pytest.fixture
def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> Callable[[], dict[str, float]]:
    """The EMF metrics handlers printed since the last call, summed by name (cold start left out)."""

    def read() -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in capsys.readouterr().out.splitlines():
            try:
                blob = json.loads(line)
            except ValueError:
                continue
            if not isinstance(blob, dict) or "_aws" not in blob:
                continue
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    if metric["Name"] == "ColdStart":
                        continue
                    values = blob[metric["Name"]]
                    totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                        values if isinstance(values, list) else [values]
                    )
        return totals

    return read
