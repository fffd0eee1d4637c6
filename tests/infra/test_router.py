"""What makes the router: invoke grants on the three tasks only, a failure destination per function."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from patterns.router import ROUTES, Router
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "RouterStack"
HANDLERS = ("router.handler", "tasks.orders_handler", "tasks.refunds_handler", "tasks.tickets_handler")


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def test_every_function_has_its_own_failure_destination(templates):
    raw = templates[STACK]
    configs = {
        c["FunctionName"]["Ref"]: c for c in properties_of(raw, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == {function_id(raw, h) for h in HANDLERS}
    destinations = [
        c["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] for c in configs.values()
    ]
    assert len(set(destinations)) == 4, "one queue each, so a failure says where it happened"
    assert set(destinations) == set(resources_of(raw, "AWS::SQS::Queue"))
    for function, config in configs.items():
        assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 3600
        queue = config["DestinationConfig"]["OnFailure"]["Destination"]
        sends = [s for s in statements_of(raw, role_of(raw, function)) if "sqs:SendMessage" in s["Action"]]
        assert [s["Resource"] for s in sends] == [queue], "each function may send to its own queue only"


def test_the_router_may_invoke_the_three_tasks_and_nothing_else(templates):
    raw = templates[STACK]
    router = function_id(raw, "router.handler")
    tasks = {function_id(raw, h) for h in HANDLERS[1:]}
    invokes = [s for s in statements_of(raw) if "lambda:InvokeFunction" in s["Action"]]
    assert all(s in statements_of(raw, role_of(raw, router)) for s in invokes)
    resources = [
        r for s in invokes for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert sorted(r["Fn::GetAtt"][0] for r in resources) == sorted(tasks), "each task's ARN, no '<arn>:*'"
    assert all(r["Fn::GetAtt"][1] == "Arn" for r in resources)
    assert all(s["Action"] == ["lambda:InvokeFunction"] for s in invokes)
    variables = properties_of(raw, "AWS::Lambda::Function")[router]["Environment"]["Variables"]
    assert {variables[f"TASK_FUNCTION_{task.upper()}"]["Ref"] for task in ROUTES.values()} == tasks


def test_each_task_writes_to_its_own_table_only(templates):
    raw = templates[STACK]
    tables = set(resources_of(raw, "AWS::DynamoDB::Table"))
    assert len(tables) == 3
    written = set()
    for handler in HANDLERS[1:]:
        function = function_id(raw, handler)
        [write] = [
            s
            for s in statements_of(raw, role_of(raw, function))
            if any("dynamodb:" in a for a in s["Action"])
        ]
        assert write["Action"] == ["dynamodb:PutItem"]
        table = write["Resource"]["Fn::GetAtt"][0]
        variables = properties_of(raw, "AWS::Lambda::Function")[function]["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": table}
        written.add(table)
    assert written == tables
    router = function_id(raw, "router.handler")
    assert not [
        s for s in statements_of(raw, role_of(raw, router)) if any("dynamodb:" in a for a in s["Action"])
    ]


def build(**props) -> tuple[Stack, Router]:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    return stack, Router(stack, "Inbox", **props)


def test_retries_are_set_apart_for_the_router_and_the_tasks():
    stack, router = build(retry_attempts=0, task_retry_attempts=1, max_event_age=Duration.minutes(10))
    configs = {
        c["FunctionName"]["Ref"]: c
        for c in properties_of(
            Template.from_stack(stack).to_json(), "AWS::Lambda::EventInvokeConfig"
        ).values()
    }
    assert configs.pop(stack.get_logical_id(router.router.node.default_child))["MaximumRetryAttempts"] == 0
    assert {c["MaximumRetryAttempts"] for c in configs.values()} == {1}
    assert {c["MaximumEventAgeInSeconds"] for c in configs.values()} == {600}


def test_one_existing_queue_may_take_every_failure():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    shared = sqs.Queue(stack, "Failures", enforce_ssl=True)
    router = Router(stack, "Inbox", failure_queue=shared)
    assert router.router_failure_queue is shared
    assert set(router.task_failure_queues.values()) == {shared}
    assert len(Template.from_stack(stack).find_resources("AWS::SQS::Queue")) == 1


def test_impossible_retries_fail_at_synth():
    with pytest.raises(ValueError, match="retry_attempts must be from 0 to 2"):
        build(task_retry_attempts=5)
