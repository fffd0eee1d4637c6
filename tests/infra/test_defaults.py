"""The house defaults: secure without arguments, loud when weakened, strict about suppressions."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from patterns.defaults import (
    PatternFunction,
    SecureDefaultOverridden,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    secure_bucket,
    secure_table,
    secure_topic,
)

pytestmark = pytest.mark.infra


@pytest.fixture
def stack() -> Stack:
    return Stack(App(builtin_cloud_formation_validation=False), "Defaults")


def function(stack: Stack, **kwargs) -> PatternFunction:
    return PatternFunction(stack, "Fn", code_dir="scalable_webhook", handler="worker.handler", **kwargs)


def test_function_role_may_only_write_its_own_log_group(stack):
    fn = function(stack)
    template = Template.from_stack(stack)
    statements = template.to_json()["Resources"]
    [policy] = [r for r in statements.values() if r["Type"] == "AWS::IAM::Policy"]
    [logs] = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "logs:PutLogEvents" in s["Action"]
    ]
    assert logs["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(fn.log_group.node.default_child), "Arn"]}
    roles = [r for r in statements.values() if r["Type"] == "AWS::IAM::Role"]
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles), "no AWS managed policy"


def test_function_refuses_a_handler_that_is_not_in_its_folder(stack):
    with pytest.raises(ValueError, match=r"no file nope\.py"):
        PatternFunction(stack, "Fn", code_dir="scalable_webhook", handler="nope.handler")


@pytest.mark.parametrize(
    "weaken",
    [
        lambda s: function(s, tracing=lambda_.Tracing.DISABLED),
        lambda s: SecureQueue(s, "Q", encryption=sqs.QueueEncryption.UNENCRYPTED),
        lambda s: secure_table(
            s,
            "T",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            point_in_time_recovery=False,
        ),
    ],
    ids=["tracing", "queue-encryption", "table-pitr"],
)
def test_weakening_a_secure_default_warns_at_synth(stack, weaken):
    with pytest.warns(SecureDefaultOverridden, match="secure default overridden"):
        weaken(stack)


def test_secure_defaults_do_not_warn(stack, recwarn):
    SecureQueue(stack, "Q")
    secure_bucket(stack, "B")
    secure_topic(stack, "T")
    function(stack)
    assert not [w for w in recwarn if issubclass(w.category, SecureDefaultOverridden)]


def test_queue_has_a_dlq_and_refuses_plain_http(stack):
    SecureQueue(stack, "Q", max_receive_count=5)
    template = Template.from_stack(stack)
    queues = template.find_resources("AWS::SQS::Queue")
    [main] = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert main["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert len(template.find_resources("AWS::SQS::QueuePolicy")) == 2


def test_event_source_needs_a_queue_with_a_dlq(stack):
    bare = sqs.Queue(stack, "Bare", enforce_ssl=True)
    with pytest.raises(ValueError, match="needs a dead-letter queue"):
        add_sqs_event_source(function(stack), bare)


def test_acknowledgments_need_a_resource_and_a_reason(stack):
    queue = SecureQueue(stack, "Q").queue
    with pytest.raises(ValueError, match="on a resource, not on the stack"):
        acknowledge(stack, "AwsSolutions-SQS3", "a perfectly long reason for this")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(queue, "AwsSolutions-SQS3", "because")
