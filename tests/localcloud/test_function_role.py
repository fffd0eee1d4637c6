"""The Lambda service's own use of a function's role: its log lines reach the log group only if the
role may create a stream there and put events on it, and an actively traced function's segments
reach X-Ray only if the role may send them; else they are dropped, and the trace says so once."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_stepfunctions as sfn

from localcloud import LocalCloud
from localcloud.core.role_use import LOG_ACTIONS
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

#: Function -> the logs actions its role is granted on its own group.
LOG_GRANTS = {
    "Granted": LOG_ACTIONS,
    "NoCreateStream": ("logs:PutLogEvents",),
    "NoPutEvents": ("logs:CreateLogStream",),
}


def build(stack: Stack) -> None:
    table = pk_table(stack, "Seen")
    subscriber = python_function(
        stack, "Subscriber", "event_recorder", environment={"TABLE_NAME": table.table_name}
    )
    table.grant_write_data(subscriber)
    for name, actions in LOG_GRANTS.items():
        group = logs.LogGroup(stack, f"{name}Logs", removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        group.grant(role, *actions)
        python_function(
            stack, name, "log_producer", role=role, log_group=group, tracing=lambda_.Tracing.ACTIVE
        )
        logs.SubscriptionFilter(
            stack,
            f"{name}Everything",
            log_group=group,
            destination=log_destinations.LambdaDestination(subscriber),
            filter_pattern=logs.FilterPattern.all_events(),
        )
    # Active tracing without the X-Ray grants CDK adds with it, as a hand-written template may have.
    untraceable = python_function(stack, "NoXRay", "log_producer")
    untraceable.node.default_child.add_property_override("TracingConfig.Mode", "Active")
    python_function(stack, "Untraced", "log_producer")
    sfn.StateMachine(
        stack,
        "TracedMachine",
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "A")),
        tracing_enabled=True,
    )
    untraceable_machine = sfn.StateMachine(
        stack, "NoXRayMachine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "B"))
    )
    untraceable_machine.node.default_child.add_property_override("TracingConfiguration.Enabled", True)


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    return run(synth("FunctionRole", build))


def log_messages(cloud: LocalCloud, function: str) -> list[str]:
    group = cloud.function(function).log_group_name
    return [e["message"] for e in cloud.client("logs").filter_log_events(logGroupName=group)["events"]]


def invoke_spans(cloud: LocalCloud, function: str) -> list:
    return cloud.trace.find("invoke", target=cloud.function(function).name)


def drops(cloud: LocalCloud, function: str) -> list[str]:
    return [span.detail for span in cloud.trace.find("drop", target=cloud.function(function).name)]


def say(*words: str) -> dict:
    return {"lines": [{"level": "INFO", "message": word} for word in words]}


def test_with_both_grants_the_lines_reach_the_group_and_the_segments_x_ray(cloud):
    cloud.invoke("Granted", say("hello"))
    [span] = invoke_spans(cloud, "Granted")
    request = span.data["request_id"]
    messages = log_messages(cloud, "Granted")
    assert messages[0] == f"START RequestId: {request} Version: $LATEST", (
        "the platform's lines frame the handler's"
    )
    assert messages[2:4] == ["plain line: 1 logged", f"END RequestId: {request}"]
    assert messages[4].startswith(f"REPORT RequestId: {request}\tDuration: ") and len(messages) == 5
    assert (span.data["logs"], span.data["xray"]) == ("delivered", "delivered")
    assert drops(cloud, "Granted") == []
    assert cloud.dropped("logs") == cloud.dropped("xray") == []


@pytest.mark.parametrize(
    ("function", "missing"),
    [("NoCreateStream", "logs:CreateLogStream"), ("NoPutEvents", "logs:PutLogEvents")],
)
def test_without_either_logs_action_the_lines_are_dropped_and_the_trace_says_so_once(
    cloud, function, missing, capsys
):
    answers = [cloud.invoke(function, say(word))["Payload"] for word in ("one", "two")]
    assert answers == [{"logged": 1}, {"logged": 1}], "the function runs all the same"
    assert log_messages(cloud, function) == []
    assert "plain line: 1 logged" in capsys.readouterr().out, "still visible to the test's capture"
    assert [span.data["logs"] for span in invoke_spans(cloud, function)] == ["dropped", "dropped"]
    group = f"arn:aws:logs:{cloud.region}:{cloud.account}:log-group:{cloud.physical_id(f'{function}Logs')}"
    reason = f"logs dropped: the role may not {missing} on {group}"
    assert drops(cloud, function) == [reason], "once per function, not once per invocation"
    assert cloud.dropped("logs") == [f"{cloud.function(function).name}: {reason}"]
    assert any(line.endswith(f"{reason}: AccessDenied") for line in cloud.trace.lines()), (
        "the line the serve console prints"
    )


def test_a_subscription_filter_sees_nothing_of_dropped_lines(cloud):
    cloud.invoke("Granted", say("kept"))
    cloud.invoke("NoPutEvents", say("lost"))
    cloud.invoke("NoCreateStream", say("lost"))
    cloud.drain()
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Seen"))["Items"]
    assert len(items) == 1, "only the granted function's group fed its subscription"


def test_active_tracing_without_the_x_ray_grants_drops_the_segments_once(cloud):
    for _ in range(2):
        cloud.invoke("NoXRay", say("traced"))
        cloud.invoke("Untraced", say("plain"))
    assert [span.data["xray"] for span in invoke_spans(cloud, "NoXRay")] == ["dropped", "dropped"]
    assert [span.data["logs"] for span in invoke_spans(cloud, "NoXRay")] == ["delivered", "delivered"]
    reason = "X-Ray segments dropped: the role may not xray:PutTraceSegments, xray:PutTelemetryRecords"
    assert drops(cloud, "NoXRay") == [reason]
    assert cloud.dropped("xray") == [f"{cloud.function('NoXRay').name}: {reason}"]
    assert all("xray" not in span.data for span in invoke_spans(cloud, "Untraced")), "nothing to send"
    assert drops(cloud, "Untraced") == []


def test_a_traced_state_machine_without_the_x_ray_grants_drops_its_segments_once(cloud):
    for machine in ("TracedMachine", "NoXRayMachine", "NoXRayMachine"):
        cloud.start_execution(machine)
    cloud.drain()
    spans = {
        machine: cloud.trace.find("execution", target=cloud.physical_id(machine).rsplit(":", 1)[-1])
        for machine in ("TracedMachine", "NoXRayMachine")
    }
    assert [span.data["xray"] for span in spans["TracedMachine"]] == ["delivered"]
    assert [span.data["xray"] for span in spans["NoXRayMachine"]] == ["dropped", "dropped"]
    name = spans["NoXRayMachine"][0].target
    reason = "X-Ray segments dropped: the role may not xray:PutTraceSegments, xray:PutTelemetryRecords"
    assert [span.detail for span in cloud.trace.find("drop", target=name)] == [reason]
    assert cloud.dropped("xray") == [f"{name}: {reason}"]


def test_the_role_is_evaluated_once_per_function_not_per_invocation(cloud, monkeypatch):
    asked = []
    decide = cloud.iam.decide
    monkeypatch.setattr(
        cloud.iam, "decide", lambda *args, **kwargs: asked.append(args) or decide(*args, **kwargs)
    )
    for _ in range(3):
        cloud.invoke("Granted", say("again"))
    role = cloud.function("Granted").role_arn
    assert sorted(action for who, action, _ in asked if who == role) == sorted(
        [*LOG_ACTIONS, "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    )


def test_without_iam_enforcement_nothing_is_dropped(synth, run):
    cloud = run(synth("FunctionRole", build), enforce_iam=False)
    cloud.invoke("NoPutEvents", say("kept"))
    cloud.invoke("NoXRay", say("kept"))
    assert log_messages(cloud, "NoPutEvents")[2] == "plain line: 1 logged"
    assert invoke_spans(cloud, "NoXRay")[0].data["xray"] == "delivered"
    assert cloud.dropped("logs") == cloud.dropped("xray") == []
