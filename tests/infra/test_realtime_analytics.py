"""What makes the real-time analytics pattern: a tumbling window on the stream's mapping, bisect and
bounded retries ending in the failure queue, a metrics table keyed by metric and window with a TTL,
an alert topic encrypted with a rotating key of its own, and grants of exactly what is called."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.realtime_analytics import AnomalyRule, RealtimeAnalytics
from patterns.stream_processing import KINESIS_POLLER_ACTIONS
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "RealtimeAnalyticsStack"


def test_the_mapping_aggregates_in_one_minute_tumbling_windows_and_gives_up_to_the_failure_queue(templates):
    raw = templates[STACK]
    [stream] = resources_of(raw, "AWS::Kinesis::Stream")
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [stream, "Arn"]}
    assert mapping["TumblingWindowInSeconds"] == 60
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 2, (
        "a final invocation that keeps failing does not hold the shard"
    )
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    assert "ParallelizationFactor" not in mapping, "one window state per shard, not per virtual shard"
    assert "FunctionResponseTypes" not in mapping, "bad records are set aside by the handler"
    [stream_props] = properties_of(raw, "AWS::Kinesis::Stream").values()
    assert stream_props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}


def test_the_metrics_table_is_keyed_by_metric_and_window_and_expires_old_windows(templates):
    [table] = properties_of(templates[STACK], "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [
        {"AttributeName": "metric", "KeyType": "HASH"},
        {"AttributeName": "window", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_alerts_go_to_a_topic_encrypted_with_a_rotating_key_of_its_own(templates):
    raw = templates[STACK]
    [key] = resources_of(raw, "AWS::KMS::Key")
    assert properties_of(raw, "AWS::KMS::Key")[key]["EnableKeyRotation"] is True
    [topic] = properties_of(raw, "AWS::SNS::Topic").values()
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    [function] = [
        f
        for f in properties_of(raw, "AWS::Lambda::Function").values()
        if f["Handler"] == "aggregator.handler"
    ]
    rules = json.loads(function["Environment"]["Variables"]["ANOMALY_RULES"])
    assert rules == [{"metric": "*.latency_ms", "statistic": "avg", "above": 1000, "below": None}]
    assert function["Environment"]["Variables"]["RETENTION_SECONDS"] == str(90 * 24 * 3600)


def test_grants_are_exactly_what_is_called_on_one_resource_each(templates):
    raw = templates[STACK]
    [stream] = resources_of(raw, "AWS::Kinesis::Stream")
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    [topic] = resources_of(raw, "AWS::SNS::Topic")
    [key] = resources_of(raw, "AWS::KMS::Key")
    granted = {
        tuple(sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])): s["Resource"]
        for s in statements_of(raw)
        if not any(
            a.startswith(("logs:", "xray:"))
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    }
    assert granted == {
        ("dynamodb:PutItem", "dynamodb:UpdateItem"): {"Fn::GetAtt": [table, "Arn"]},
        tuple(sorted(KINESIS_POLLER_ACTIONS)): {"Fn::GetAtt": [stream, "Arn"]},
        ("sqs:SendMessage",): {"Fn::GetAtt": [queue, "Arn"]},
        ("sns:Publish",): {"Ref": topic},
        ("kms:Decrypt", "kms:GenerateDataKey"): {"Fn::GetAtt": [key, "Arn"]},
    }


def test_window_rules_and_limits_are_set_through_props_and_bad_ones_refused():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    rules = [AnomalyRule("*.errors", "sum", above=10), AnomalyRule("orders", "count", below=1)]
    RealtimeAnalytics(stack, "Mine", window=Duration.minutes(15), anomaly_rules=rules, retry_attempts=0)
    raw = Template.from_stack(stack).to_json()
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert (mapping["TumblingWindowInSeconds"], mapping["MaximumRetryAttempts"]) == (900, 0)
    [function] = [
        f
        for f in properties_of(raw, "AWS::Lambda::Function").values()
        if f["Handler"] == "aggregator.handler"
    ]
    assert json.loads(function["Environment"]["Variables"]["ANOMALY_RULES"])[1] == {
        "metric": "orders",
        "statistic": "count",
        "above": None,
        "below": 1,
    }

    for props, message in [
        ({"window": Duration.minutes(16)}, "window must be whole seconds from 1 second to 15 minutes"),
        ({"window": Duration.millis(1500)}, "window must be whole seconds"),
        ({"batch_size": 0}, "batch_size"),
        ({"retry_attempts": 10_001}, "retry_attempts"),
        ({"max_record_age": Duration.seconds(59)}, "max_record_age"),
        ({"retention": Duration.hours(1)}, "retention must be at least a day"),
        ({"anomaly_rules": [AnomalyRule("x", "median", above=1)]}, "statistic 'median' must be one of"),
        ({"anomaly_rules": [AnomalyRule("x", "avg")]}, "needs above or below"),
        ({"anomaly_rules": [AnomalyRule("", "avg", above=1)]}, "metric must not be empty"),
        ({"failure_queue_props": {"fifo": True}}, "FIFO"),
    ]:
        with pytest.raises(ValueError, match=message):
            RealtimeAnalytics(stack, f"Bad{len(stack.node.children)}", **props)
