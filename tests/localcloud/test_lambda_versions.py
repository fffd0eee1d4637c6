"""Lambda versions, aliases and runtimes: a version snapshots the function, an alias routes between
two versions by weight (repeatably), qualified ARNs reach them from every caller with IAM and
resource policies per qualifier, and a function runs only on a runtime this process can run."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from botocore.exceptions import ClientError

from localcloud.errors import FunctionNotFound
from localcloud.services.lambda_.runtime_check import UnsupportedRuntime
from localcloud.services.lambda_.versions import VersionError
from tests.localcloud.conftest import FUNCTIONS

pytestmark = pytest.mark.localcloud

HERE = f"python{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "python3.12" if HERE != "python3.12" else "python3.11"


def _function(
    stack: Stack, name: str, runtime: str, folder: str = "versioned", handler: str = "handler.handler"
):
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime(runtime, lambda_.RuntimeFamily.PYTHON),
        handler=handler,
        code=lambda_.Code.from_asset(str(FUNCTIONS / folder)),
        environment={"COLOUR": "blue"},
    )


def build(stack: Stack) -> None:
    fn = _function(stack, "Versioned", HERE)
    live = lambda_.Alias(
        stack, "Live", alias_name="live", version=fn.current_version, provisioned_concurrent_executions=1
    )
    live.add_event_source(sources.SqsEventSource(sqs.Queue(stack, "Queue")))
    live.configure_async_invoke(retry_attempts=0)
    api = apigw.RestApi(stack, "Api")
    api.root.add_method("GET", apigw.LambdaIntegration(live))
    sfn.StateMachine(
        stack,
        "Flow",
        definition_body=sfn.DefinitionBody.from_chainable(
            tasks.LambdaInvoke(stack, "CallLive", lambda_function=live, payload_response_only=True)
        ),
    )
    caller = _function(stack, "Caller", HERE, folder="invoke_target")
    live.grant_invoke(caller)
    _function(stack, "OtherPython", OTHER)
    lambda_.Function(
        stack,
        "Node",
        runtime=lambda_.Runtime.NODEJS_24_X,
        handler="index.handler",
        code=lambda_.Code.from_inline("exports.handler = async () => 'hi';"),
    )
    custom = lambda_.Runtime.PROVIDED_AL2023
    lambda_.Function(
        stack,
        "CustomPython",
        runtime=custom,
        handler="handler.handler",
        code=fn_code("versioned"),
        environment={"COLOUR": "blue"},
    )
    lambda_.Function(stack, "CustomBinary", runtime=custom, handler="bootstrap", code=fn_code("versioned"))


def fn_code(folder: str) -> lambda_.Code:
    return lambda_.Code.from_asset(str(FUNCTIONS / folder))


@pytest.fixture
def artifact(synth):
    return synth("LambdaVersions", build)


@pytest.fixture
def cloud(artifact, run):
    return run(artifact)


def invoke(cloud, name: str) -> dict:
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return {**json.loads(response["Payload"].read()), "executed": response["ExecutedVersion"]}


def test_a_version_keeps_the_configuration_it_was_published_with(cloud):
    latest = cloud.function("Versioned")
    latest.environment["COLOUR"] = "green"
    latest.memory_size = 512
    assert invoke(cloud, "Versioned") == {
        "version": "$LATEST",
        "env_version": "$LATEST",
        "colour": "green",
        "memory": 512,
        "executed": "$LATEST",
    }
    assert invoke(cloud, f"{latest.name}:1") == {
        "version": "1",
        "env_version": "1",
        "colour": "blue",
        "memory": 128,
        "executed": "1",
    }
    published = cloud.client("lambda").publish_version(FunctionName=latest.name)
    assert (published["Version"], published["Environment"]["Variables"]["COLOUR"]) == ("2", "green")
    again = cloud.client("lambda").publish_version(FunctionName=latest.name)
    assert again["Version"] == "2", "an unchanged function publishes no new version"
    assert invoke(cloud, f"{latest.arn}:2")["colour"] == "green"
    assert cloud.client("lambda").invoke(FunctionName=latest.name, Qualifier="1")["ExecutedVersion"] == "1"
    with pytest.raises(FunctionNotFound):
        invoke(cloud, f"{latest.name}:3")


def test_cloudformation_refuses_a_version_of_an_unchanged_function(cloud):
    versions = cloud.service("lambda").versions
    with pytest.raises(VersionError, match=r"A version for this Lambda function exists \( 1 \)"):
        versions.publish(cloud.function("Versioned"), logical_id="Again")


def test_the_alias_resolves_to_its_version_from_every_caller(cloud):
    latest = cloud.function("Versioned")
    latest.environment["COLOUR"] = "green"  # $LATEST changes; the alias stays on version 1
    assert invoke(cloud, f"{latest.name}:live")["colour"] == "blue"

    response = cloud.api().get("/")
    assert response.status == 200
    assert json.loads(response.body)["version"] == "1"

    execution = cloud.start_execution("Flow", {})
    cloud.drain()
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["version"] == "1"

    cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Queue"), MessageBody="{}")
    cloud.drain()
    spans = [s for s in cloud.trace.find("invoke", target=latest.name) if s.source.startswith("sqs")]
    assert [s.data["version"] for s in spans] == ["1"]


def test_iam_and_resource_policies_apply_per_qualifier(cloud):
    latest = cloud.function("Versioned")
    for target, outcome in [
        (f"{latest.arn}:live", {"executed": "1"}),
        (f"{latest.arn}:1", {"error": "AccessDeniedException"}),
        (latest.arn, {"error": "AccessDeniedException"}),
    ]:
        answer = cloud.invoke("Caller", {"target": target})["Payload"]
        got = {k: v for k, v in answer.items() if k in ("executed", "error")}
        assert got == outcome, target
    configs = cloud.service("lambda").invoker.configs
    assert configs[f"{latest.arn}:live"].retry_attempts == 0, "the alias's EventInvokeConfig is its own"
    assert latest.arn not in configs
    policies = cloud.kernel.iam.resource
    assert f"{latest.arn}:live" in policies, "API Gateway's permission is on the alias"
    assert latest.arn not in policies, "and not on the function: an API call to it would be refused"


def test_weighted_routing_is_repeatable_and_near_its_weight(artifact, run):
    def routed(cloud) -> list[str]:
        client = cloud.client("lambda")
        latest = cloud.function("Versioned")
        latest.environment["COLOUR"] = "green"
        client.publish_version(FunctionName=latest.name)
        alias = client.update_alias(
            FunctionName=latest.name,
            Name="live",
            FunctionVersion="2",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
        )
        assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
        return [invoke(cloud, f"{latest.name}:live")["executed"] for _ in range(100)]

    cloud = run(artifact)
    first = routed(cloud)
    cloud.stop()
    counts = Counter(first)
    assert set(counts) == {"1", "2"}
    assert 10 <= counts["1"] <= 40, counts
    second = routed(run(artifact))
    assert second == first, "a seeded draw per alias: the same run routes the same way"


@pytest.mark.parametrize(
    ("routing", "code"),
    [
        ({"9": 0.5}, "ResourceNotFoundException"),
        ({"1": 1.5}, "InvalidParameterValueException"),
        ({"1": 0.5, "2": 0.1}, "InvalidParameterValueException"),
        ({"$LATEST": 0.5}, "InvalidParameterValueException"),
    ],
)
def test_an_alias_lambda_would_refuse_is_refused(cloud, routing, code):
    client = cloud.client("lambda")
    latest = cloud.function("Versioned")
    latest.environment["COLOUR"] = "green"
    client.publish_version(FunctionName=latest.name)
    with pytest.raises(ClientError) as refused:
        client.update_alias(
            FunctionName=latest.name,
            Name="live",
            FunctionVersion="2",
            RoutingConfig={"AdditionalVersionWeights": routing},
        )
    assert refused.value.response["Error"]["Code"] == code
    assert client.get_alias(FunctionName=latest.name, Name="live")["FunctionVersion"] == "1"


def test_provisioned_concurrency_starts_initialized_up_to_its_count(cloud):
    versions = cloud.service("lambda").versions
    version = cloud.function(f"{cloud.function('Versioned').name}:1")
    assert versions.provisioned == {version.arn: 1}
    version.duration = 5.0
    for _ in range(2):
        cloud.invoke(f"{version.name}:live", {}, "Event")
    cloud.drain()
    cloud.advance(5)
    cloud.invoke(f"{version.name}:live", {})  # once the first two have ended
    spans = cloud.trace.find("invoke", target=version.name)
    # The first loads the handler, yet is no cold start: its environment was initialized beforehand.
    assert [(s.at, s.data["provisioned"]) for s in spans] == [(0, True), (0, False), (5, True)]
    assert spans[0].data["cold_start"] is False
    with pytest.raises(VersionError, match=r"\$LATEST"):
        versions.provision(cloud.function("Versioned"), 1)


def test_a_function_declaring_another_python_warns_once(cloud, caplog):
    with caplog.at_level(logging.WARNING, logger="localcloud.lambda"):
        for _ in range(2):
            assert invoke(cloud, "OtherPython")["colour"] == "blue"
        invoke(cloud, "Versioned")
    warnings = [span for span in cloud.trace.spans if "runtime_warning" in span.data]
    assert len(warnings) == 1, "once per function, on its first invocation"
    assert warnings[0].target == cloud.function("OtherPython").name
    assert f"declares {OTHER} but runs on this interpreter, {HERE}" in warnings[0].data["runtime_warning"]
    assert len([r for r in caplog.records if "declares" in r.getMessage()]) == 1


def test_a_custom_runtime_with_a_python_handler_runs_with_a_warning(cloud):
    assert invoke(cloud, "CustomPython")["version"] == "$LATEST"
    (span,) = cloud.trace.find("invoke")
    assert "custom runtime provided.al2023" in span.data["runtime_warning"]


@pytest.mark.parametrize(("name", "runtime"), [("Node", "nodejs24.x"), ("CustomBinary", "provided.al2023")])
def test_a_runtime_this_process_cannot_run_is_an_error_naming_it(cloud, name, runtime):
    with pytest.raises(
        UnsupportedRuntime, match=rf"^{name}\w* \(.+\): runtime {runtime} cannot run"
    ) as error:
        invoke(cloud, name)
    assert error.value.runtime == runtime
    assert not cloud.trace.find("invoke", target=cloud.function(name).name), "it never ran"


def test_strict_runtime_makes_another_python_an_error(artifact, run):
    cloud = run(artifact, strict_runtime=True)
    assert invoke(cloud, "Versioned")["version"] == "$LATEST"
    with pytest.raises(UnsupportedRuntime, match=rf"declares {OTHER} .*strict_runtime"):
        invoke(cloud, "OtherPython")
