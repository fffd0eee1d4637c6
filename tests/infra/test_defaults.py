"""The house defaults: secure without arguments, loud when weakened, strict about suppressions."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from patterns.defaults import (
    PatternFunction,
    SecureDefaultOverridden,
    SecureQueue,
    StreamFailureQueue,
    acknowledge,
    add_sqs_event_source,
    async_failure_destination,
    grant_send,
    grant_table,
    grant_topic_key,
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


def granted(stack: Stack) -> dict[str, set[str]]:
    """Every action the stack's identity policies allow, by the logical id of what it is on."""
    found: dict[str, set[str]] = {}
    for resource in Template.from_stack(stack).to_json()["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for target in targets:
                name = target if isinstance(target, str) else target["Fn::GetAtt"][0]
                found.setdefault(name, set()).update(actions)
    return found


def test_grant_send_grants_send_and_the_keys_actions_only(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    queue = SecureQueue(stack, "Q", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key).queue
    sender = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant_send(queue, sender)
    assert granted(stack) == {
        stack.get_logical_id(queue.node.default_child): {"sqs:SendMessage"},
        stack.get_logical_id(key.node.default_child): {"kms:GenerateDataKey", "kms:Decrypt"},
    }


def test_an_sqs_event_source_grants_only_what_lambdas_poller_calls(stack):
    queue = SecureQueue(stack, "Q").queue
    fn = function(stack)
    add_sqs_event_source(fn, queue, batch_size=5, max_concurrency=3)
    on_queue = granted(stack)[stack.get_logical_id(queue.node.default_child)]
    assert on_queue == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["BatchSize"] == 5
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 3}


@pytest.mark.parametrize(
    ("batch_size", "window", "message"),
    [
        (11, None, "batch_size must be from 1 to 10 without a max_batching_window"),
        (0, None, "batch_size must be from 1 to 10 "),
        (10_001, Duration.seconds(5), "batch_size must be from 1 to 10000"),
    ],
)
def test_an_sqs_event_source_keeps_lambdas_batch_limits(stack, batch_size, window, message):
    with pytest.raises(ValueError, match=message):
        add_sqs_event_source(
            function(stack), SecureQueue(stack, "Q").queue, batch_size=batch_size, max_batching_window=window
        )


def test_acknowledgments_need_a_resource_and_a_reason(stack):
    queue = SecureQueue(stack, "Q").queue
    with pytest.raises(ValueError, match="on a resource, not on the stack"):
        acknowledge(stack, "AwsSolutions-SQS3", "a perfectly long reason for this")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(queue, "AwsSolutions-SQS3", "because")


def test_a_stream_failure_queue_is_granted_send_only(stack):
    from aws_cdk import aws_lambda_event_sources as sources

    table = dynamodb.Table(
        stack,
        "T",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    failures = SecureQueue(stack, "Failures").queue
    fn = function(stack)
    fn.add_event_source(
        sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            on_failure=StreamFailureQueue(failures),
        )
    )
    queue_id = stack.get_logical_id(failures.node.default_child)
    assert granted(stack)[queue_id] == {"sqs:SendMessage"}, "no GetQueueUrl, no GetQueueAttributes"
    [mapping] = Template.from_stack(stack).find_resources("AWS::Lambda::EventSourceMapping").values()
    destination = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_async_failure_destination_retries_then_sends_to_its_own_queue(stack):
    fn = function(stack)
    queue = async_failure_destination(fn, what="events", retry_attempts=1, max_event_age=Duration.minutes(30))
    template = Template.from_stack(stack).to_json()["Resources"]
    queue_id = stack.get_logical_id(queue.node.default_child)
    [config] = [r["Properties"] for r in template.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 1 and config["MaximumEventAgeInSeconds"] == 1800
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}
    assert template[queue_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    [policy] = [r for r in template.values() if r["Type"] == "AWS::IAM::Policy"]
    sends = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "sqs:SendMessage" in s["Action"]
    ]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    assert granted(stack)[queue_id] == {"sqs:SendMessage"}, "no GetQueueUrl, no GetQueueAttributes"


def test_async_failure_destination_shares_a_given_queue(stack):
    shared = SecureQueue(stack, "Shared").queue
    assert async_failure_destination(function(stack), what="events", queue=shared) is shared
    assert len(Template.from_stack(stack).find_resources("AWS::SQS::Queue")) == 2, "the queue and its DLQ"


@pytest.mark.parametrize(
    ("retry_attempts", "max_event_age", "message"),
    [
        (3, Duration.hours(1), "retry_attempts must be from 0 to 2"),
        (2, Duration.seconds(30), "max_event_age must be from 1 minute to 6 hours"),
        (2, Duration.hours(7), "max_event_age must be from 1 minute to 6 hours"),
    ],
)
def test_async_failure_destination_refuses_what_lambda_refuses(stack, retry_attempts, max_event_age, message):
    with pytest.raises(ValueError, match=message):
        async_failure_destination(
            function(stack), what="events", retry_attempts=retry_attempts, max_event_age=max_event_age
        )


def test_api_stage_variables_are_set_on_the_stage_and_absent_by_default(stack):
    from aws_cdk import aws_apigateway as apigw

    from patterns.defaults import SecureRestApi

    for name, variables in (("Plain", None), ("WithVariables", {"backendHost": "legacy.example.com"})):
        api = SecureRestApi(stack, name, description=name, stage_variables=variables)
        api.root.add_method("GET", apigw.MockIntegration())
    stages = Template.from_stack(stack).find_resources("AWS::ApiGateway::Stage")
    by_api = {
        key.split("Deployment")[0]: stage["Properties"].get("Variables") for key, stage in stages.items()
    }
    assert by_api == {"Plain": None, "WithVariables": {"backendHost": "legacy.example.com"}}


def test_grant_invoke_latest_grants_the_unqualified_arn_only(stack):
    from patterns.defaults import grant_invoke_latest

    callee = PatternFunction(stack, "Callee", code_dir="scalable_webhook", handler="worker.handler")
    caller = PatternFunction(stack, "Caller", code_dir="scalable_webhook", handler="receiver.handler")
    grant_invoke_latest(callee, caller)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    invoke = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    assert invoke == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stack.get_logical_id(callee.node.default_child), "Arn"]},
        }
    ]


def reader(stack: Stack, name: str = "Reader") -> iam.Role:
    return iam.Role(stack, name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def cmk_table(stack: Stack, key: kms.IKey) -> dynamodb.Table:
    return secure_table(
        stack,
        "T",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
    )


def on_key(stack: Stack, key: kms.IKey) -> set[str]:
    """Every action the stack's identity policies allow on ``key``."""
    key_id = json.dumps(stack.get_logical_id(key.node.default_child))
    return {
        action
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if key_id in json.dumps(s["Resource"])
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


def test_grant_table_with_aws_managed_encryption_grants_the_actions_and_no_key(stack):
    table = secure_table(
        stack, "T", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    )
    grant_table(table, reader(stack), "dynamodb:GetItem", "dynamodb:PutItem")
    assert granted(stack) == {
        stack.get_logical_id(table.node.default_child): {"dynamodb:GetItem", "dynamodb:PutItem"}
    }


KEY_READ = {"kms:Decrypt", "kms:DescribeKey"}
KEY_WRITE = KEY_READ | {"kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}


@pytest.mark.parametrize(
    ("actions", "key_actions"),
    [
        (("dynamodb:GetItem",), KEY_READ),
        (("dynamodb:Query", "dynamodb:Scan"), KEY_READ),
        (("dynamodb:PutItem",), KEY_WRITE),
        (("dynamodb:GetItem", "dynamodb:DeleteItem"), KEY_WRITE),
        (("dynamodb:UpdateItem",), KEY_WRITE),
        (("dynamodb:DescribeTable",), None),
    ],
)
def test_grant_table_with_a_customer_managed_key_grants_what_the_actions_need_of_it(
    stack, actions, key_actions
):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    table = cmk_table(stack, key)
    grant_table(table, reader(stack), *actions)
    expected = {stack.get_logical_id(table.node.default_child): set(actions)}
    if key_actions:
        expected[stack.get_logical_id(key.node.default_child)] = key_actions
    assert granted(stack) == expected


def test_grant_table_grants_the_key_of_an_existing_table(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    table = dynamodb.Table.from_table_attributes(stack, "Existing", table_name="mine", encryption_key=key)
    grant_table(table, reader(stack), "dynamodb:GetItem")
    assert on_key(stack, key) == KEY_READ


def test_grant_table_grants_one_named_index_and_never_every_index(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    table = cmk_table(stack, key)
    table.add_global_secondary_index(
        index_name="ByZone", partition_key=dynamodb.Attribute(name="zone", type=dynamodb.AttributeType.STRING)
    )
    role = reader(stack)
    grant_table(table, role, "dynamodb:Query", index="ByZone")
    grant_table(table, role, "dynamodb:GetItem")
    resources = {
        json.dumps(s["Resource"]): s["Action"]
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:Query" in s["Action"] or "dynamodb:GetItem" in s["Action"]
    }
    table_id = stack.get_logical_id(table.node.default_child)
    assert resources == {
        json.dumps(
            {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/ByZone"]]}
        ): "dynamodb:Query",
        json.dumps({"Fn::GetAtt": [table_id, "Arn"]}): "dynamodb:GetItem",
    }
    assert on_key(stack, key) == KEY_READ


def test_grant_table_refuses_an_action_it_does_not_know_the_key_needs_of(stack):
    table = cmk_table(stack, kms.Key(stack, "Key", enable_key_rotation=True))
    with pytest.raises(ValueError, match=r"dynamodb:\*: not a DynamoDB action the house knows"):
        grant_table(table, reader(stack), "dynamodb:*")
    with pytest.raises(ValueError, match="needs at least one action"):
        grant_table(table, reader(stack, "Other"))


def test_grant_topic_key_grants_a_publisher_a_customer_managed_key_only(stack):
    from aws_cdk import aws_sns as sns

    key = kms.Key(stack, "Key", enable_key_rotation=True)
    assert (
        grant_topic_key(secure_topic(stack, "Mine", master_key=key), reader(stack, "Publisher")) is not None
    )
    aws_managed = sns.Topic(
        stack, "AwsManaged", master_key=kms.Alias.from_alias_name(stack, "Sns", "alias/aws/sns")
    )
    grant_topic_key(aws_managed, reader(stack, "Other"))
    assert granted(stack) == {
        stack.get_logical_id(key.node.default_child): {"kms:Decrypt", "kms:GenerateDataKey*"}
    }


def test_json_model_carries_draft_4_combinators_and_number_keywords(stack):
    from aws_cdk import aws_apigateway as apigw

    from patterns.defaults import json_model

    api = apigw.RestApi(stack, "Api")
    api.root.add_method("GET")
    price = {
        "type": "number",
        "multipleOf": 0.5,
        "exclusiveMaximum": True,
        "maximum": 10,
        "anyOf": [{"maximum": 0}, {"minimum": 0.01}],
        "not": {"enum": [3]},
        "oneOf": [{"type": "number"}],
        "allOf": [{"minimum": 0}],
    }
    json_model(api, "Price", {"type": "object", "properties": {"price": price}})
    [model] = Template.from_stack(stack).find_resources("AWS::ApiGateway::Model").values()
    assert model["Properties"]["Schema"]["properties"]["price"] == price
    with pytest.raises(ValueError, match="patternProperties"):
        json_model(api, "Other", {"patternProperties": {}})
