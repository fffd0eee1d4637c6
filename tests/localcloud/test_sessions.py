"""What botocore sessions made while a local cloud runs share, and what each keeps to itself:
one decoded copy of the endpoint data, and one copy of each session initializer however often the
module that registers it is imported again (Powertools, at each cold start)."""

from __future__ import annotations

import json
import types

import botocore
import botocore.loaders
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


def _plain_session() -> botocore.session.Session:
    """A session whose loader is botocore's own, sharing nothing with other sessions."""
    session = botocore.session.Session()
    session.register_component("data_loader", botocore.loaders.create_loader())
    return session


ENDPOINT_QUERIES = [
    ("s3", "us-east-1", {"use_fips_endpoint": True}),
    ("s3", "us-east-1", {}),
    ("s3", "us-east-1", {"use_dualstack_endpoint": True}),
    ("dynamodb", "eu-central-1", {}),
    ("dynamodb", "eu-central-1", {"use_fips_endpoint": True}),
    ("sts", "aws-global", {}),
    ("lambda", "cn-north-1", {}),
    ("sqs", "us-gov-west-1", {"use_fips_endpoint": True}),
    ("iam", "ap-southeast-9", {}),
]


def _resolve(session: botocore.session.Session, service: str, region: str, options: dict) -> dict:
    resolver = session._get_internal_component("endpoint_resolver")
    return json.loads(json.dumps(resolver.construct_endpoint(service, region, **options)))


def test_sessions_resolve_every_endpoint_as_a_session_of_their_own_would(cloud):
    first, second = botocore.session.Session(), botocore.session.Session()
    endpoints = first._get_internal_component("endpoint_resolver")._endpoint_data
    assert second._get_internal_component("endpoint_resolver")._endpoint_data is endpoints, "decoded once"
    for query in ENDPOINT_QUERIES:  # the first session's resolutions fill the shared data in first
        _resolve(first, *query)
    for query in reversed(ENDPOINT_QUERIES):
        assert _resolve(second, *query) == _resolve(_plain_session(), *query), query
    for query in ENDPOINT_QUERIES:
        assert _resolve(_plain_session(), *query) == _resolve(botocore.session.Session(), *query), query


def test_a_session_with_its_own_data_path_reads_its_own_endpoints(cloud, tmp_path):
    data = botocore.loaders.create_loader().load_data("endpoints")
    partition = next(p for p in data["partitions"] if p["partition"] == "aws")
    partition["services"]["lcprobe"] = {"endpoints": {"us-east-1": {"hostname": "probe.example.test"}}}
    (tmp_path / "endpoints.json").write_text(json.dumps(data))
    own = botocore.session.Session()
    own.set_config_variable("data_path", str(tmp_path))
    assert _resolve(own, "lcprobe", "us-east-1", {})["hostname"] == "probe.example.test"
    default = _resolve(botocore.session.Session(), "lcprobe", "us-east-1", {})
    assert default["hostname"] == "lcprobe.us-east-1.amazonaws.com", "the botocore data's default template"


def test_clients_translate_event_names_by_botocores_aliases_and_an_emitter_with_its_own_keeps_them(cloud):
    from botocore.hooks import EventAliaser, HierarchicalEmitter

    seen: list[str] = []
    client = botocore.session.Session().create_client("apigateway", region_name="us-east-1")
    client.meta.events.register("lcprobe.api-gateway.GetRestApis", lambda **_: seen.append("client"))
    client.meta.events.emit("lcprobe.apigateway.GetRestApis")
    own = EventAliaser(HierarchicalEmitter(), {"apigateway": "lcprobe-own"})
    own.register("lcprobe.lcprobe-own.GetRestApis", lambda **_: seen.append("own aliases"))
    own.register("lcprobe.api-gateway.GetRestApis", lambda **_: seen.append("botocore's aliases"))
    own.emit("lcprobe.apigateway.GetRestApis")
    assert seen == ["client", "own aliases"]
