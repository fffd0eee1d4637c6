"""What makes storage-first + circuit breaker: API Gateway stores into SQS with no code in front; the
processor and the recovery check share one circuit; only the recovery check may switch the
processor's event source mapping, that one mapping; the queue's visibility outlasts the check's
interval and its retention is SQS's longest."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.storage_first_circuit_breaker import StorageFirstCircuitBreaker
from tests.infra.conftest import properties_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StorageFirstCircuitBreakerStack"


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def mapping_of(raw) -> tuple[str, dict]:
    [(mapping, props)] = properties_of(raw, "AWS::Lambda::EventSourceMapping").items()
    return mapping, props


def test_the_api_stores_into_the_queue_the_processor_reads_in_batches_with_partial_failures(templates):
    raw = templates[STACK]
    [method] = properties_of(raw, "AWS::ApiGateway::Method").values()
    assert (method["Integration"]["Type"], method["Integration"]["IntegrationHttpMethod"]) == ("AWS", "POST")
    assert ":sqs:path/" in str(method["Integration"]["Uri"]), "a direct service integration, no Lambda"
    _, mapping = mapping_of(raw)
    assert mapping["FunctionName"] == {"Ref": function_id(raw, "processor.sqs_handler")}
    assert (mapping["BatchSize"], mapping["ScalingConfig"], mapping["FunctionResponseTypes"]) == (
        10,
        {"MaximumConcurrency": 2},
        ["ReportBatchItemFailures"],
    )
    queue = raw["Resources"][mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] == 120, "twice the check's interval: held requests stay out of sight"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600, "the longest outage it rides out"


def test_only_the_recovery_check_switches_the_mapping_and_only_that_one(templates):
    raw = templates[STACK]
    mapping, _ = mapping_of(raw)
    recovery = function_id(raw, "recovery.handler")
    switching = [s for s in statements_of(raw) if any("EventSourceMapping" in a for a in s["Action"])]
    assert switching == [
        {
            "Action": ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":lambda:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":event-source-mapping:",
                        {"Ref": mapping},
                    ],
                ]
            },
        }
    ]
    assert switching[0] in statements_of(raw, role_of(raw, recovery))
    env = properties_of(raw, "AWS::Lambda::Function")[recovery]["Environment"]["Variables"]
    assert env["MAPPING_UUID"] == {"Ref": mapping}
    [rule] = properties_of(raw, "AWS::Events::Rule").values()
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [recovery, "Arn"]}


def test_processor_and_recovery_share_one_circuit_and_call_only_the_fulfilment_service(templates):
    raw = templates[STACK]
    functions = properties_of(raw, "AWS::Lambda::Function")
    processor, recovery = function_id(raw, "processor.sqs_handler"), function_id(raw, "recovery.handler")
    fulfilment = function_id(raw, "fulfilment.handler")
    circuits = [
        {k: v for k, v in functions[f]["Environment"]["Variables"].items() if k.startswith("CIRCUIT_")}
        for f in (processor, recovery)
    ]
    assert circuits[0]["CIRCUIT_NAME"] == "fulfilment-service"
    assert {k: v for k, v in circuits[0].items() if k != "CIRCUIT_PROBE_TIMEOUT_SECONDS"} == {
        k: v for k, v in circuits[1].items() if k != "CIRCUIT_PROBE_TIMEOUT_SECONDS"
    }
    circuit_table = circuits[0]["CIRCUIT_TABLE_NAME"]["Ref"]
    for function in (processor, recovery):
        statements = statements_of(raw, role_of(raw, function))
        assert {
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [circuit_table, "Arn"]},
        } in statements
        invokes = [s for s in statements if s["Action"] == ["lambda:InvokeFunction"]]
        assert invokes == [
            {
                "Action": ["lambda:InvokeFunction"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [fulfilment, "Arn"]},
            }
        ]
    timeouts = [functions[f]["Timeout"] for f in (fulfilment, processor, recovery)]
    assert timeouts == [3, 10, 15], "each caller waits the service out"


def test_your_own_service_and_a_slower_check_size_the_queue(templates):
    stack = Stack(App(builtin_cloud_formation_validation=False), "Own")
    mine = lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:fx"
    )
    pattern = StorageFirstCircuitBreaker(
        stack, "P", fulfilment=mine, recovery_interval=Duration.minutes(5), max_receive_count=5
    )
    raw = Template.from_stack(stack).to_json()
    assert pattern.fulfilment_table is None
    assert [
        p["KeySchema"][0]["AttributeName"] for p in properties_of(raw, "AWS::DynamoDB::Table").values()
    ] == [
        "circuit",
        "request_id",
    ], "the circuit and processed tables; no sample service's"
    queue = raw["Resources"][stack.get_logical_id(pattern.queue.node.default_child)]["Properties"]
    assert (queue["VisibilityTimeout"], queue["RedrivePolicy"]["maxReceiveCount"]) == (600, 5)
    [rule] = properties_of(raw, "AWS::Events::Rule").values()
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    invokes = [s for s in statements_of(raw) if s["Action"] == ["lambda:InvokeFunction"]]
    assert [s["Resource"] for s in invokes] == [mine.function_arn] * 2


def _stack():
    return Stack(App(builtin_cloud_formation_validation=False), "Refused")


def test_contradictory_settings_fail_at_synth():
    with pytest.raises(ValueError, match="recovery_interval must be whole minutes"):
        StorageFirstCircuitBreaker(_stack(), "P", recovery_interval=Duration.seconds(90))
    with pytest.raises(ValueError, match="failure_threshold must be 1 or more"):
        StorageFirstCircuitBreaker(_stack(), "P", failure_threshold=0)
    with pytest.raises(ValueError, match="max_open_timeout must be at least open_timeout"):
        StorageFirstCircuitBreaker(_stack(), "P", max_open_timeout=Duration.seconds(10))
    with pytest.raises(ValueError, match="fulfilment_timeout must be from 1 to 10 s"):
        StorageFirstCircuitBreaker(_stack(), "P", fulfilment_timeout=Duration.seconds(11))
    stack = _stack()
    mine = lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:fx"
    )
    with pytest.raises(ValueError, match=r"fulfilment_props.*fulfilment"):
        StorageFirstCircuitBreaker(stack, "P", fulfilment=mine, fulfilment_props={"memory_size": 512})
