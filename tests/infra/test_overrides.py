"""The override contract (``merge_props``): props reach the template, contradictions fail at synth,
and a weakened secure default warns."""

from __future__ import annotations

import doctest
import functools
import json
import re
import shutil
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from patterns import defaults
from patterns.aggregator import Aggregator
from patterns.circuit_breaker_sfn import StepFunctionsCircuitBreaker
from patterns.defaults import PatternFunction, SecureDefaultOverridden, SecureQueue
from patterns.gatekeeper import Gatekeeper
from patterns.internal_api import InternalApi
from patterns.internal_handoff import InternalHandoff
from patterns.robust_api import RobustApi
from patterns.router import Router
from patterns.scalable_webhook import ScalableWebhook
from patterns.sfn_crud import SfnCrud
from patterns.simple_web_service import SimpleWebService
from patterns.state_machine import StateMachine
from patterns.storage_first import StorageFirstEventBus, StorageFirstQueue, StorageFirstTable
from patterns.strangler import Strangler
from tests.infra.conftest import properties_of, statements_of

pytestmark = pytest.mark.infra

Template = dict[str, Any]


def synth(construct: type, **props: Any) -> Template:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    construct(stack, "Pattern", **props)
    return App.of(stack).synth().get_stack_by_name("Overrides").template


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """Function properties by handler."""
    return {p["Handler"]: p for p in properties_of(template, "AWS::Lambda::Function").values()}


def tables(template: Template) -> list[dict[str, Any]]:
    return list(properties_of(template, "AWS::DynamoDB::Table").values())


def queue_keys(template: Template) -> list[Any]:
    return [p.get("KmsMasterKeyId") for p in properties_of(template, "AWS::SQS::Queue").values()]


def method_authorizations(template: Template) -> set[str]:
    return {p["AuthorizationType"] for p in properties_of(template, "AWS::ApiGateway::Method").values()}


def only(template: Template, resource_type: str) -> dict[str, Any]:
    [props] = properties_of(template, resource_type).values()
    return props


def requests_queue(template: Template) -> dict[str, Any]:
    """The storage-first queue API Gateway sends to: the one with a redrive policy."""
    [props] = [q for q in properties_of(template, "AWS::SQS::Queue").values() if "RedrivePolicy" in q]
    return props


def streaming_table(template: Template) -> dict[str, Any]:
    [props] = [t for t in tables(template) if "StreamSpecification" in t]
    return props


def api_role(template: Template) -> dict[str, Any]:
    [props] = [
        r
        for r in properties_of(template, "AWS::IAM::Role").values()
        if r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "apigateway.amazonaws.com"}
    ]
    return props


IAM_ONLY = {"default_method_options": apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)}

#: (construct, props, what the template must show)
OVERRIDES: dict[str, tuple[type, dict[str, Any], Callable[[Template], bool]]] = {
    "simple_web_service function memory": (
        SimpleWebService,
        {"function_props": {"memory_size": 1024}},
        lambda t: functions(t)["items.handler"]["MemorySize"] == 1024,
    ),
    "simple_web_service IAM auth on every method": (
        SimpleWebService,
        {"api_props": IAM_ONLY},
        lambda t: method_authorizations(t) == {"AWS_IAM"},
    ),
    "simple_web_service table billing": (
        SimpleWebService,
        {"table_props": {"billing_mode": dynamodb.BillingMode.PROVISIONED}},
        lambda t: tables(t)[0]["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    ),
    "scalable_webhook worker memory": (
        ScalableWebhook,
        {"worker_props": {"memory_size": 512}},
        lambda t: (
            functions(t)["worker.handler"]["MemorySize"] == 512
            and functions(t)["receiver.handler"]["MemorySize"] == 256
        ),
    ),
    "scalable_webhook platform for both functions": (
        ScalableWebhook,
        {"functions_props": {"architecture": lambda_.Architecture.X86_64}},
        lambda t: {tuple(f["Architectures"]) for f in functions(t).values()} == {("x86_64",)},
    ),
    "internal_api service memory": (
        InternalApi,
        {"service_props": {"memory_size": 1769}},
        lambda t: functions(t)["service.handler"]["MemorySize"] == 1769,
    ),
    "gatekeeper authorizer cache": (
        Gatekeeper,
        {"authorizer_props": {"results_cache_ttl": Duration.seconds(30)}},
        lambda t: (
            [
                a["AuthorizerResultTtlInSeconds"]
                for a in properties_of(t, "AWS::ApiGateway::Authorizer").values()
            ]
            == [30]
        ),
    ),
    "aggregator sample tables with a TTL": (
        Aggregator,
        {"sample_tables_props": {"time_to_live_attribute": "expires"}},
        lambda t: [x["TimeToLiveSpecification"]["AttributeName"] for x in tables(t)] == ["expires"] * 3,
    ),
    "internal_handoff failure queue retention": (
        InternalHandoff,
        {"failure_queue_props": {"retention_period": Duration.days(4)}},
        lambda t: (
            [q["MessageRetentionPeriod"] for q in properties_of(t, "AWS::SQS::Queue").values()]
            == [4 * 24 * 3600]
        ),
    ),
    "router tasks memory": (
        Router,
        {"tasks_props": {"memory_size": 128}},
        lambda t: (
            {h: f["MemorySize"] for h, f in functions(t).items()}
            == {
                "router.handler": 256,
                **{f"tasks.{task}_handler": 128 for task in ("orders", "refunds", "tickets")},
            }
        ),
    ),
    "strangler products function memory": (
        Strangler,
        {"legacy_url": "https://legacy.example.com", "functions_props": {"memory_size": 512}},
        lambda t: functions(t)["products.handler"]["MemorySize"] == 512,
    ),
    "robust_api quote service memory": (
        RobustApi,
        {"quote_service_props": {"memory_size": 128}},
        lambda t: functions(t)["shipping_quote.handler"]["MemorySize"] == 128,
    ),
    "state_machine execution timeout": (
        StateMachine,
        {"state_machine_props": {"timeout": Duration.hours(3)}},
        lambda t: (
            '\\"TimeoutSeconds\\":10800'
            in json.dumps(
                [m["DefinitionString"] for m in properties_of(t, "AWS::StepFunctions::StateMachine").values()]
            )
        ),
    ),
    "state_machine one function's memory": (
        StateMachine,
        {"function_props": {"assign_driver": {"memory_size": 512}}},
        lambda t: (
            functions(t)["assign_driver.handler"]["MemorySize"] == 512
            and functions(t)["load_drivers.handler"]["MemorySize"] == 256
        ),
    ),
    "sfn_crud table contributor insights": (
        SfnCrud,
        {"table_props": {"contributor_insights_enabled": True}},
        lambda t: tables(t)[0]["ContributorInsightsSpecification"] == {"Enabled": True},
    ),
    "storage_first processor memory": (
        StorageFirstQueue,
        {"function_props": {"memory_size": 512}},
        lambda t: functions(t)["processor.sqs_handler"]["MemorySize"] == 512,
    ),
    "storage_first queue retention": (
        StorageFirstQueue,
        {"queue_props": {"retention_period": Duration.days(1)}},
        lambda t: requests_queue(t)["MessageRetentionPeriod"] == 24 * 3600,
    ),
    "storage_first processed table contributor insights": (
        StorageFirstQueue,
        {"processed_table_props": {"contributor_insights_enabled": True}},
        lambda t: tables(t)[0]["ContributorInsightsSpecification"] == {"Enabled": True},
    ),
    "storage_first IAM auth on the intake": (
        StorageFirstQueue,
        {"api_props": IAM_ONLY},
        lambda t: method_authorizations(t) == {"AWS_IAM"},
    ),
    "storage_first API role permissions boundary": (
        StorageFirstQueue,
        {
            "api_role_props": {
                "permissions_boundary": iam.ManagedPolicy.from_aws_managed_policy_name("Boundary")
            }
        },
        lambda t: "policy/Boundary" in json.dumps(api_role(t)["PermissionsBoundary"]),
    ),
    "sfn_crud API role permissions boundary": (
        SfnCrud,
        {
            "api_role_props": {
                "permissions_boundary": iam.ManagedPolicy.from_aws_managed_policy_name("Boundary")
            }
        },
        lambda t: "policy/Boundary" in json.dumps(api_role(t)["PermissionsBoundary"]),
    ),
    "storage_first requests table TTL": (
        StorageFirstTable,
        {"requests_table_props": {"time_to_live_attribute": "expires"}},
        lambda t: (
            streaming_table(t)["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
        ),
    ),
    "storage_first table construct's failure queue retention": (
        StorageFirstTable,
        {"dead_letter_queue_props": {"retention_period": Duration.days(4)}},
        lambda t: only(t, "AWS::SQS::Queue")["MessageRetentionPeriod"] == 4 * 24 * 3600,
    ),
    "storage_first bus description": (
        StorageFirstEventBus,
        {"event_bus_props": {"description": "Intake of orders"}},
        lambda t: only(t, "AWS::Events::EventBus")["Description"] == "Intake of orders",
    ),
    "storage_first archive retention": (
        StorageFirstEventBus,
        {"archive_props": {"retention": Duration.days(30)}},
        lambda t: only(t, "AWS::Events::Archive")["RetentionDays"] == 30,
    ),
    "storage_first rule disabled": (
        StorageFirstEventBus,
        {"rule_props": {"enabled": False}},
        lambda t: only(t, "AWS::Events::Rule")["State"] == "DISABLED",
    ),
    "storage_first bus dead-letter queue retention": (
        StorageFirstEventBus,
        {"dead_letter_queue_props": {"retention_period": Duration.days(2)}},
        lambda t: only(t, "AWS::SQS::Queue")["MessageRetentionPeriod"] == 2 * 24 * 3600,
    ),
}


@pytest.mark.filterwarnings("ignore::patterns.defaults.SecureDefaultOverridden")
@pytest.mark.parametrize("case", OVERRIDES)
def test_an_override_changes_the_template(case):
    construct, props, shows = OVERRIDES[case]
    assert shows(synth(construct, **props)), case


def test_a_queue_key_given_encrypts_the_inbox_and_its_dlq_with_it():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    key = kms.Key(stack, "QueueKey", enable_key_rotation=True)
    ScalableWebhook(stack, "Pattern", queue_props={"encryption_master_key": key})
    template = App.of(stack).synth().get_stack_by_name("Overrides").template
    key_id = stack.get_logical_id(key.node.default_child)
    assert queue_keys(template) == [{"Fn::GetAtt": [key_id, "Arn"]}] * 2


def test_a_storage_first_queue_key_encrypts_both_queues_and_reaches_both_roles():
    """API Gateway's role sends to a queue under the caller's key, and the processor reads from it:
    each gets the key actions it needs, on that key only."""
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    key = kms.Key(stack, "QueueKey", enable_key_rotation=True)
    intake = StorageFirstQueue(stack, "Pattern", queue_props={"encryption_master_key": key})
    template = App.of(stack).synth().get_stack_by_name("Overrides").template
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    assert queue_keys(template) == [key_arn] * 2

    def key_actions(role: iam.IRole) -> set[str]:
        role_id = stack.get_logical_id(role.node.default_child)
        return {
            action
            for statement in statements_of(template, role_id)
            if statement["Resource"] == key_arn
            for action in statement["Action"]
        }

    assert key_actions(intake.api_role) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert key_actions(intake.function.role) == {"kms:Decrypt"}


def test_storage_first_reads_its_contract_from_code_dir(tmp_path):
    """A copy's own contract.json sets the request model, the queue's message size and the 413's words."""
    code_dir = tmp_path / "intake"
    shutil.copytree(defaults.FUNCTIONS_DIR / "storage_first", code_dir)
    (code_dir / "contract.json").write_text(json.dumps({"request_types": ["ping"], "max_body_bytes": 65536}))
    template = synth(StorageFirstQueue, code_dir=str(code_dir))
    assert only(template, "AWS::ApiGateway::Model")["Schema"]["properties"]["type"]["enum"] == ["ping"]
    assert requests_queue(template)["MaximumMessageSize"] == 65536
    assert "the queue's 65,536-byte message" in json.dumps(only(template, "AWS::ApiGateway::Method"))


def test_an_existing_table_is_used_and_none_is_made():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    mine = dynamodb.Table.from_table_name(stack, "Mine", "orders-of-mine")
    api = RobustApi(stack, "Pattern", table=mine)
    template = App.of(stack).synth().get_stack_by_name("Overrides").template
    assert api.table is mine and tables(template) == []
    assert {f["Environment"]["Variables"].get("TABLE_NAME") for f in functions(template).values()} >= {
        "orders-of-mine"
    }


def test_runtime_and_architecture_reach_the_function_and_its_layers():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    fn = PatternFunction(
        stack,
        "Fn",
        code_dir="scalable_webhook",
        handler="worker.handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.X86_64,
    )
    PatternFunction(stack, "House", code_dir="scalable_webhook", handler="receiver.handler")
    template = App.of(stack).synth().get_stack_by_name("Overrides").template
    props = template["Resources"][stack.get_logical_id(fn.node.default_child)]["Properties"]
    assert (props["Runtime"], props["Architectures"]) == ("python3.12", ["x86_64"])
    layers = {
        tuple(p["CompatibleRuntimes"]) + tuple(p["CompatibleArchitectures"])
        for p in properties_of(template, "AWS::Lambda::LayerVersion").values()
    }
    assert layers == {("python3.12", "x86_64"), ("python3.13", "arm64")}, "a shared layer per platform"
    parameters = {
        p["Default"] for p in template["Parameters"].values() if "powertools" in p.get("Default", "")
    }
    assert parameters == {
        "/aws/service/powertools/python/x86_64/python3.12/latest",
        "/aws/service/powertools/python/arm64/python3.13/latest",
    }


def test_a_pinned_powertools_layer_of_another_platform_is_refused():
    app = App(
        builtin_cloud_formation_validation=False,
        context={
            "powertools_layer_arn": "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
        },
    )
    stack = Stack(app, "Overrides")
    PatternFunction(stack, "House", code_dir="scalable_webhook", handler="worker.handler")
    with pytest.raises(ValueError, match=r"not a layer for python3\.12 on x86_64"):
        PatternFunction(
            stack,
            "Other",
            code_dir="scalable_webhook",
            handler="worker.handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
        )


def existing_table(stack: Stack) -> dynamodb.ITable:
    return dynamodb.Table.from_table_name(stack, "Mine", "mine")


CONTRADICTIONS: dict[str, tuple[type, Callable[[Stack], dict[str, Any]], str]] = {
    "an existing table and props for it": (
        SimpleWebService,
        lambda s: {"table": existing_table(s), "table_props": {"time_to_live_attribute": "ttl"}},
        r"Pattern: table and table_props both describe the same resource; give table_props to create it, "
        r"or table to use yours",
    ),
    "a keyword and the prop it sets": (
        SimpleWebService,
        lambda s: {"memory_size": 512, "function_props": {"memory_size": 1024}},
        r"memory_size and function_props\['memory_size'\] both set memory_size; give one of them",
    ),
    "a prop the pattern depends on": (
        ScalableWebhook,
        lambda s: {"worker_props": {"handler": "mine.handler"}},
        r"worker_props\['handler'\] is set by the construct itself",
    ),
    "a table key the handlers read": (
        SfnCrud,
        lambda s: {
            "table_props": {
                "partition_key": dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
            }
        },
        r"table_props\['partition_key'\] is set by the construct itself",
    ),
    "an environment variable the construct sets": (
        InternalHandoff,
        lambda s: {"worker_props": {"environment": {"BALANCES_TABLE_NAME": "other", "EXTRA": "1"}}},
        r"worker_props\['environment'\] overrides BALANCES_TABLE_NAME",
    ),
    "a visibility timeout shorter than the worker's": (
        ScalableWebhook,
        lambda s: {
            "worker_timeout": Duration.seconds(60),
            "queue_props": {"visibility_timeout": Duration.seconds(30)},
        },
        r"queue_props\['visibility_timeout'\] is shorter than the worker's timeout",
    ),
    "no DLQ but DLQ props": (
        ScalableWebhook,
        lambda s: {
            "queue_props": {"deploy_dead_letter_queue": False, "dead_letter_queue_props": {"fifo": False}}
        },
        r"deploy_dead_letter_queue=False contradicts dead_letter_queue_props",
    ),
    "a gatekeeper API without its authorizer": (
        Gatekeeper,
        lambda s: {"api_props": IAM_ONLY},
        r"api_props\['default_method_options'\] is set by the construct itself",
    ),
    "a state machine definition": (
        StateMachine,
        lambda s: {"state_machine_props": {"definition_body": sfn.DefinitionBody.from_string("{}")}},
        r"state_machine_props\['definition_body'\] is set by the construct itself",
    ),
    "an Express CRUD machine made Standard": (
        SfnCrud,
        lambda s: {"state_machine_props": {"state_machine_type": sfn.StateMachineType.STANDARD}},
        r"state_machine_props\['state_machine_type'\] is set by the construct itself",
    ),
    "an existing failure queue and props for one": (
        Router,
        lambda s: {
            "failure_queue": sqs.Queue.from_queue_arn(s, "Q", "arn:aws:sqs:us-east-1:111111111111:q"),
            "failure_queue_props": {"retention_period": Duration.days(1)},
        },
        r"failure_queue and failure_queue_props both describe the same resource",
    ),
    "an existing quote service and props for the sample": (
        RobustApi,
        lambda s: {
            "quote_service": lambda_.Function.from_function_name(s, "Quotes", "quotes"),
            "quote_service_props": {"memory_size": 512},
        },
        r"quote_service and quote_service_props both describe the same resource",
    ),
    "services of yours and props for the samples": (
        Aggregator,
        lambda s: {
            "services": {"mine": lambda_.Function.from_function_name(s, "Mine", "mine")},
            "sample_services_props": {"memory_size": 512},
        },
        r"services and sample_services_props both describe the same resource",
    ),
    "callers of yours and props for the demo caller": (
        InternalApi,
        lambda s: {
            "callers": [PatternFunction(s, "Mine", code_dir="internal_api", handler="caller.handler")],
            "caller_props": {"memory_size": 512},
        },
        r"caller_props configure the demo caller",
    ),
    "a runtime that is not Python": (
        SimpleWebService,
        lambda s: {"function_props": {"runtime": lambda_.Runtime.NODEJS_22_X}},
        r"runtime nodejs22\.x is not Python",
    ),
    "layers and a shared folder": (
        SimpleWebService,
        lambda s: {"function_props": {"layers": [], "shared_dir": "shared"}},
        r"shared_dir builds a house layer and layers replaces the house layers; give one of them",
    ),
    "a webhook inbox without a DLQ": (
        ScalableWebhook,
        lambda s: {"queue_props": {"deploy_dead_letter_queue": False}},
        r"Inbox/Queue: a queue feeding a function needs a dead-letter queue",
    ),
    "a role for the function": (
        Router,
        lambda s: {"router_props": {"role": None}},
        r"role is set by PatternFunction",
    ),
    "a handler folder that does not exist": (
        StateMachine,
        lambda s: {"code_dir": "no/such/folder"},
        r"code_dir 'no/such/folder' is not a folder",
    ),
    "a storage-first queue larger than its 413 says": (
        StorageFirstQueue,
        lambda s: {"queue_props": {"max_message_size_bytes": 1_048_576}},
        r"queue_props\['max_message_size_bytes'\] is set by the construct itself",
    ),
    "a FIFO storage-first queue": (
        StorageFirstQueue,
        lambda s: {"queue_props": {"fifo": True}},
        r"queue_props\['fifo'\] is set by the construct itself",
    ),
    "a storage-first queue that hides messages for less than the processor runs": (
        StorageFirstQueue,
        lambda s: {
            "timeout": Duration.seconds(60),
            "queue_props": {"visibility_timeout": Duration.seconds(30)},
        },
        r"queue_props\['visibility_timeout'\] is shorter than the processor's timeout \(60 s\)",
    ),
    "a storage-first receive count both ways": (
        StorageFirstQueue,
        lambda s: {"max_receive_count": 5, "queue_props": {"max_receive_count": 2}},
        r"max_receive_count and queue_props\['max_receive_count'\] both set max_receive_count",
    ),
    "a processed table of yours and props for one": (
        StorageFirstEventBus,
        lambda s: {
            "processed_table": existing_table(s),
            "processed_table_props": {"time_to_live_attribute": "t"},
        },
        r"processed_table and processed_table_props both describe the same resource",
    ),
    "a processed table with a sort key": (
        StorageFirstQueue,
        lambda s: {
            "processed_table_props": {
                "sort_key": dynamodb.Attribute(name="at", type=dynamodb.AttributeType.NUMBER)
            }
        },
        r"processed_table_props\['sort_key'\] is set by the construct itself",
    ),
    "a requests table without the stream the processor reads": (
        StorageFirstTable,
        lambda s: {"requests_table_props": {"stream": dynamodb.StreamViewType.KEYS_ONLY}},
        r"requests_table_props\['stream'\] is set by the construct itself",
    ),
    "a FIFO on-failure queue": (
        StorageFirstTable,
        lambda s: {"dead_letter_queue_props": {"fifo": True}},
        r"dead_letter_queue_props\['fifo'\] is set by the construct itself",
    ),
    "a processor memory both ways": (
        StorageFirstTable,
        lambda s: {"memory_size": 512, "function_props": {"memory_size": 1024}},
        r"memory_size and function_props\['memory_size'\] both set memory_size",
    ),
    "async retries of the bus processor": (
        StorageFirstEventBus,
        lambda s: {"function_props": {"retry_attempts": 0}},
        r"function_props\['retry_attempts'\] is set by the construct itself",
    ),
    "a rule with another pattern": (
        StorageFirstEventBus,
        lambda s: {"rule_props": {"event_pattern": events.EventPattern(source=["elsewhere"])}},
        r"rule_props\['event_pattern'\] is set by the construct itself",
    ),
    "an archive retention both ways": (
        StorageFirstEventBus,
        lambda s: {"archive_retention": Duration.days(1), "archive_props": {"retention": Duration.days(2)}},
        r"archive_retention and archive_props\['retention'\] both set retention",
    ),
    "an API role another service assumes": (
        StorageFirstQueue,
        lambda s: {"api_role_props": {"assumed_by": iam.ServicePrincipal("lambda.amazonaws.com")}},
        r"api_role_props\['assumed_by'\] is set by the construct itself",
    ),
    "an sfn_crud API role another service assumes": (
        SfnCrud,
        lambda s: {"api_role_props": {"assumed_by": iam.ServicePrincipal("lambda.amazonaws.com")}},
        r"api_role_props\['assumed_by'\] is set by the construct itself",
    ),
    "execution data and state machine logs in a CRUD machine": (
        SfnCrud,
        lambda s: {
            "include_execution_data": True,
            "state_machine_props": {"logs": sfn.LogOptions(destination=logs.LogGroup(s, "Mine"))},
        },
        r"include_execution_data and Workflow\['logs'\] both set logs",
    ),
    "no execution data and state machine logs in an order workflow": (
        StateMachine,
        lambda s: {
            "include_execution_data": False,
            "state_machine_props": {
                "logs": sfn.LogOptions(destination=logs.LogGroup(s, "Mine"), level=sfn.LogLevel.ALL)
            },
        },
        r"include_execution_data and Workflow\['logs'\] both set logs",
    ),
    "a storage-first contract from a Code": (
        StorageFirstQueue,
        lambda s: {"code_dir": lambda_.Code.from_inline("def sqs_handler(event, context): pass")},
        r"the storage-first construct reads contract\.json from code_dir at synth: give a folder",
    ),
}


@pytest.mark.filterwarnings("ignore::patterns.defaults.SecureDefaultOverridden")
@pytest.mark.parametrize("case", CONTRADICTIONS)
def test_a_contradiction_fails_at_synth_naming_both_props(case):
    construct, props, message = CONTRADICTIONS[case]
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    with pytest.raises(ValueError, match=message):
        construct(stack, "Pattern", **props(stack))


WEAKENED: dict[str, tuple[type, dict[str, Any], str]] = {
    "queue encryption": (
        ScalableWebhook,
        {"queue_props": {"encryption": sqs.QueueEncryption.UNENCRYPTED}},
        r"Inbox\['encryption'\]=.*UNENCRYPTED",
    ),
    "queue TLS-only": (
        ScalableWebhook,
        {"queue_props": {"enforce_ssl": False}},
        r"Inbox\['enforce_ssl'\]=False",
    ),
    "failure queue TLS-only": (
        RobustApi,
        {"shipping_failure_queue_props": {"enforce_ssl": False}},
        r"ShipperFailures\['enforce_ssl'\]=False",
    ),
    "function tracing": (
        SimpleWebService,
        {"function_props": {"tracing": lambda_.Tracing.DISABLED}},
        r"ItemsFunction\['tracing'\]",
    ),
    "table point-in-time recovery": (
        Router,
        {
            "tables_props": {
                "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=False
                )
            }
        },
        r"OrdersTable\['point_in_time_recovery_specification'\]",
    ),
    "table KMS encryption": (
        Gatekeeper,
        {"principals_table_props": {"encryption": dynamodb.TableEncryption.DEFAULT}},
        r"PrincipalsTable\['encryption'\]",
    ),
    "table kept when its stack goes": (
        SimpleWebService,
        {"table_props": {"removal_policy": RemovalPolicy.DESTROY}},
        r"Table\['removal_policy'\]=.*DESTROY.* The default keeps the table and its data",
    ),
    "failure queue retention": (
        RobustApi,
        {"shipping_failure_queue_props": {"retention_period": Duration.days(1)}},
        r"ShipperFailures\['retention_period'\]=1 day\. The default keeps failed messages 14 days",
    ),
    "dead-letter queue retention": (
        ScalableWebhook,
        {"queue_props": {"dead_letter_queue_props": {"retention_period": Duration.days(4)}}},
        r"DeadLetterQueue\['retention_period'\]=4 days\. The default keeps failed messages 14 days",
    ),
    "topic TLS-only": (
        StateMachine,
        {"notification_topic_props": {"enforce_ssl": False}},
        r"CustomerNotifications\['enforce_ssl'\]=False",
    ),
    "state machine tracing": (
        SfnCrud,
        {"state_machine_props": {"tracing_enabled": False}},
        r"Workflow\['tracing_enabled'\]=False",
    ),
    "API tracing": (Aggregator, {"api_props": {"tracing_enabled": False}}, r"Api tracing_enabled=False"),
    "storage-first queue encryption": (
        StorageFirstQueue,
        {"queue_props": {"encryption": sqs.QueueEncryption.UNENCRYPTED}},
        r"Requests\['encryption'\]=.*UNENCRYPTED",
    ),
    "storage-first requests table point-in-time recovery": (
        StorageFirstTable,
        {
            "requests_table_props": {
                "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=False
                )
            }
        },
        r"RequestsTable\['point_in_time_recovery_specification'\]",
    ),
    "storage-first dead-letter queue TLS-only": (
        StorageFirstEventBus,
        {"dead_letter_queue_props": {"enforce_ssl": False}},
        r"FailedEvents\['enforce_ssl'\]=False",
    ),
    "storage-first API role with a policy of its own": (
        StorageFirstQueue,
        {
            "api_role_props": {
                "managed_policies": [iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSQSFullAccess")]
            }
        },
        r"api_role_props\['managed_policies'\]=.*The default lets API Gateway call one action on one resource",
    ),
    "sfn_crud API role with a policy of its own": (
        SfnCrud,
        {
            "api_role_props": {
                "managed_policies": [
                    iam.ManagedPolicy.from_aws_managed_policy_name("AWSStepFunctionsFullAccess")
                ]
            }
        },
        r"api_role_props\['managed_policies'\]=.*The default lets API Gateway only start the state machine",
    ),
}


@pytest.mark.parametrize("case", WEAKENED)
def test_weakening_a_secure_default_through_props_warns(case):
    construct, props, setting = WEAKENED[case]
    assert [m for m in secure_default_warnings(construct, props) if re.search(setting, m)]


def secure_default_warnings(
    construct: type, props: dict[str, Any] | Callable[[Stack], dict[str, Any]]
) -> list[str]:
    """The :class:`SecureDefaultOverridden` messages building ``construct`` with ``props`` gives."""
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        construct(stack, "Pattern", **(props(stack) if callable(props) else props))
    return [str(w.message) for w in caught if issubclass(w.category, SecureDefaultOverridden)]


def _logs(level: sfn.LogLevel | None = None, **options: Any) -> Callable[[Stack], dict[str, Any]]:
    """``state_machine_props`` with logs of ``level`` to a log group of the caller's."""
    return lambda s: {
        "state_machine_props": {
            "logs": sfn.LogOptions(destination=logs.LogGroup(s, "Mine"), level=level, **options)
        }
    }


@pytest.mark.parametrize("construct", [SfnCrud, StateMachine])
@pytest.mark.parametrize(
    ("props", "weakened"),
    [
        (lambda s: {"state_machine_props": {"logs": sfn.LogOptions(level=sfn.LogLevel.OFF)}}, "OFF"),
        (_logs(sfn.LogLevel.ERROR), "ERROR"),
        (_logs(sfn.LogLevel.FATAL), "FATAL"),
        (_logs(), "LogOptions(destination="),
        (_logs(sfn.LogLevel.ALL, include_execution_data=True), "include_execution_data=True"),
        (_logs(sfn.LogLevel.ALL), None),
        (_logs(sfn.LogLevel.ALL, include_execution_data=False), None),
    ],
    ids=["off", "errors", "fatal", "cdk-default-level", "execution-data", "all", "all-without-data"],
)
def test_state_machine_logs_warn_unless_every_event_is_logged_without_data(construct, props, weakened):
    told = [m for m in secure_default_warnings(construct, props) if "Workflow['logs']" in m]
    if weakened is None:
        assert told == []
    else:
        assert len(told) == 1 and weakened in told[0] and "logs every execution's events" in told[0], told


def test_a_queue_without_its_dlq_warns_and_has_no_redrive():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    with pytest.warns(SecureDefaultOverridden, match="deploy_dead_letter_queue=False"):
        queue = SecureQueue(stack, "Q", deploy_dead_letter_queue=False)
    assert queue.dead_letter_queue is None
    [props] = properties_of(
        App.of(stack).synth().get_stack_by_name("Overrides").template, "AWS::SQS::Queue"
    ).values()
    assert "RedrivePolicy" not in props


def test_props_that_keep_the_secure_defaults_do_not_warn(recwarn):
    synth(
        ScalableWebhook,
        worker_props={"memory_size": 512},
        queue_props={
            "retention_period": Duration.days(2),
            "dead_letter_queue_props": {"retention_period": Duration.days(14)},
        },
        table_props={"removal_policy": RemovalPolicy.RETAIN},
    )
    assert not [w for w in recwarn if issubclass(w.category, SecureDefaultOverridden)]


def test_merge_props_example_runs():
    finder = doctest.DocTestFinder()
    [test] = finder.find(defaults.merge_props, "merge_props", globs={"merge_props": defaults.merge_props})
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize(
    "construct",
    [
        Aggregator,
        Gatekeeper,
        InternalApi,
        InternalHandoff,
        RobustApi,
        Router,
        ScalableWebhook,
        SfnCrud,
        SimpleWebService,
        StateMachine,
        StepFunctionsCircuitBreaker,
        StorageFirstEventBus,
        StorageFirstQueue,
        StorageFirstTable,
        Strangler,
    ],
)
def test_every_override_a_construct_takes_is_on_its_page(construct):
    import inspect
    from pathlib import Path

    page = (
        Path(__file__).resolve().parents[2]
        / "docs"
        / "patterns"
        / f"{construct.__module__.split('.')[-1]}.md"
    ).read_text()
    # A variant's own keywords and those of the base class it passes the rest to.
    props = [
        name
        for cls in construct.__mro__
        if cls.__module__ == construct.__module__ and "__init__" in vars(cls)
        for name in inspect.signature(cls.__init__).parameters
        if name.endswith("_props") or name == "code_dir"
    ]
    assert props and [name for name in props if f"`{name}`" not in page] == []


#: What a role needs of a customer-managed table key (CDK's KEY_READ_ACTIONS and KEY_WRITE_ACTIONS).
KEY_FOR_READS = {"kms:Decrypt", "kms:DescribeKey"}
KEY_FOR_WRITES = KEY_FOR_READS | {"kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}
#: Stream reads included: CDK's grant_stream_read, behind a stream event source, grants the key for reads.
READS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:GetRecords",
}
WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}

#: (construct, its required keywords, the props of the table(s) given a customer-managed key)
TABLE_KEY_CASES: dict[str, tuple[type, dict[str, Any], str]] = {
    "simple_web_service": (SimpleWebService, {}, "table_props"),
    "robust_api": (RobustApi, {}, "table_props"),
    "scalable_webhook": (ScalableWebhook, {}, "table_props"),
    "sfn_crud (the workflow's tasks)": (SfnCrud, {}, "table_props"),
    "internal_api": (InternalApi, {}, "prices_table_props"),
    "internal_handoff balances": (InternalHandoff, {}, "balances_table_props"),
    "internal_handoff idempotency": (InternalHandoff, {}, "idempotency_table_props"),
    "gatekeeper principals": (Gatekeeper, {}, "principals_table_props"),
    "gatekeeper documents": (Gatekeeper, {}, "documents_table_props"),
    "state_machine orders": (StateMachine, {}, "orders_table_props"),
    "state_machine drivers (its index)": (StateMachine, {}, "drivers_table_props"),
    "router tables": (Router, {}, "tables_props"),
    "aggregator sample tables": (Aggregator, {}, "sample_tables_props"),
    "strangler products": (Strangler, {"legacy_url": "https://legacy.example.com"}, "products_table_props"),
    "storage_first processed": (StorageFirstQueue, {}, "processed_table_props"),
    "storage_first requests table (API Gateway's role)": (StorageFirstTable, {}, "requests_table_props"),
}


def synth_with_key(construct: type, **props: Any) -> tuple[Template, str]:
    """The template, and the logical id of a key made in the stack; a callable prop is given the key."""
    stack = Stack(App(builtin_cloud_formation_validation=False), "Overrides")
    key = kms.Key(stack, "TableKey", enable_key_rotation=True)
    construct(stack, "Pattern", **{k: v(key) if callable(v) else v for k, v in props.items()})
    return App.of(stack).synth().get_stack_by_name("Overrides").template, stack.get_logical_id(
        key.node.default_child
    )


def mentions(value: Any, logical_id: str) -> bool:
    return f'"{logical_id}"' in json.dumps(value)


def without_key(template: Template, key_id: str) -> Template:
    """``template`` without the key's grants and without the tables' encryption settings."""
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            props.pop("SSESpecification", None)
        if resource["Type"] == "AWS::IAM::Policy":
            document = props["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if not mentions(s, key_id)]
    return template


@pytest.mark.parametrize("case", TABLE_KEY_CASES)
def test_a_customer_managed_table_key_reaches_every_role_that_uses_the_table(case):
    construct, required, props_name = TABLE_KEY_CASES[case]
    cmk = {
        props_name: lambda key: {
            "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED,
            "encryption_key": key,
        }
    }
    template, key_id = synth_with_key(construct, **required, **cmk)
    keyed = {
        table_id
        for table_id, props in properties_of(template, "AWS::DynamoDB::Table").items()
        if mentions(props.get("SSESpecification"), key_id)
    }
    assert keyed, f"{props_name} made no table with the key"
    users = 0
    for policy_id, policy in properties_of(template, "AWS::IAM::Policy").items():
        statements = [
            {**s, "Action": [s["Action"]] if isinstance(s["Action"], str) else s["Action"]}
            for s in policy["PolicyDocument"]["Statement"]
        ]
        on_tables = {
            a for s in statements if any(mentions(s["Resource"], t) for t in keyed) for a in s["Action"]
        }
        on_key = {a for s in statements if mentions(s["Resource"], key_id) for a in s["Action"]}
        expected = KEY_FOR_WRITES if on_tables & WRITES else KEY_FOR_READS if on_tables & READS else set()
        users += bool(on_tables)
        assert on_key == expected, f"{policy_id}: {sorted(on_tables)} on the table"
    assert users, "no role uses the table"
    baseline, baseline_key = baseline_with_key(construct, tuple(required.items()))
    assert without_key(template, key_id) == without_key(baseline, baseline_key)


@functools.cache
def baseline_with_key(construct: type, required: tuple[tuple[str, Any], ...]) -> tuple[Template, str]:
    """:func:`synth_with_key` without props, once per construct: cases of one construct share it
    (:func:`without_key` copies it before any change)."""
    return synth_with_key(construct, **dict(required))


def test_a_customer_managed_topic_key_reaches_the_workflow_that_publishes():
    template, key_id = synth_with_key(StateMachine, notification_topic_props=lambda key: {"master_key": key})
    [machine_role] = [
        role_id
        for role_id, role in properties_of(template, "AWS::IAM::Role").items()
        if role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "states.amazonaws.com"}
    ]
    on_key = {
        (role_id, action)
        for role_id in properties_of(template, "AWS::IAM::Role")
        for s in statements_of(template, role_id)
        if mentions(s["Resource"], key_id)
        for action in s["Action"]
    }
    assert on_key == {(machine_role, "kms:Decrypt"), (machine_role, "kms:GenerateDataKey*")}
