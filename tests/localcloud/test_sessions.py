"""What botocore sessions made while a local cloud runs share: one copy of each session initializer
however often the module that registers it is imported again (Powertools, at each cold start)."""

from __future__ import annotations

import types

import botocore
import botocore.session
import pytest
from aws_cdk import Stack

from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build_logger(stack: Stack) -> None:
    python_function(stack, "Logs", "log_producer")


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    started = LocalCloud(synth("PowertoolsImporter", build_logger), start=FIXED_START)
    started.start()
    yield started
    started.stop()


def _from_powertools(callbacks) -> list:
    return [c for c in callbacks if getattr(c, "__module__", "").startswith("aws_lambda_powertools.")]


def test_each_cold_start_imports_powertools_again_and_a_new_session_runs_its_initializer_once(cloud):
    """As in a Lambda environment, which imports it once: a copy per cold start was one more handler
    on every request of each session made after it, and one more to copy with every client."""
    for _ in range(3):
        cloud.function("Logs").reset()
        assert cloud.invoke("Logs", {"lines": []})["Payload"] == {"logged": 0}
    assert [s.data["cold_start"] for s in cloud.trace.find("invoke")][-3:] == [True, True, True]
    assert len(_from_powertools(botocore._INITIALIZERS)) == 1
    handlers = botocore.session.Session()._events._emitter._handlers
    assert len(_from_powertools(handlers.prefix_search("request-created.sts.GetCallerIdentity"))) == 1


def _module_function(source: str, module_name: str) -> types.FunctionType:
    """``initialize`` from ``source`` run as module ``module_name``: what one import of it defines."""
    module = types.ModuleType(module_name)
    exec(compile(source, f"{module_name}.py", "exec"), module.__dict__)  # noqa: S102 - our own source
    return module.initialize


def test_a_module_imported_again_replaces_its_initializer_and_other_initializers_stay(cloud, monkeypatch):
    monkeypatch.setattr(botocore, "_INITIALIZERS", list(botocore._INITIALIZERS))
    source = "def initialize(session):\n    session.set_config_variable('region', 'eu-west-1')\n"
    first, again = (_module_function(source, "lcprobe_initializer") for _ in range(2))
    other = _module_function(source, "lcprobe_other")
    closures = [(lambda value: lambda session: None)(value) for value in range(2)]
    before = list(botocore._INITIALIZERS)
    for callback in (first, other, *closures, again):
        botocore.register_initializer(callback)
    registered = botocore._INITIALIZERS
    assert registered == [*before, other, *closures, again]
    assert botocore.session.Session().get_config_variable("region") == "eu-west-1"
    botocore.unregister_initializer(again)
    with pytest.raises(ValueError):
        botocore.unregister_initializer(first)
