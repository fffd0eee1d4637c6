"""What makes storage-first: API Gateway writes straight to the storage, with one narrow role; a
processor behind it with partial batches, retries that end in a queue, and one scoped write grant.

The default (SQS) construct is StorageFirstStack; the DynamoDB and EventBridge constructs are the
registered variants' stacks, synthesized with every other stack and gated like them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Template

from patterns.defaults import FUNCTIONS_DIR
from patterns.stack import new_app
from patterns.storage_first import (
    StorageFirstBase,
    StorageFirstEventBus,
    StorageFirstQueue,
    StorageFirstTable,
)
from tests.infra.conftest import lint_template, properties_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StorageFirstStack"


# ------------------------------------------------------------------------------------------------ helpers


def only(raw: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, props)] = properties_of(raw, resource_type).items()
    return logical_id, props


def post_method(raw: dict[str, Any]) -> dict[str, Any]:
    [method] = [
        m for m in properties_of(raw, "AWS::ApiGateway::Method").values() if m["HttpMethod"] == "POST"
    ]
    return method


def api_role_statements(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of the role the POST method's integration assumes."""
    credentials = post_method(raw)["Integration"]["Credentials"]
    role_id = credentials["Fn::GetAtt"][0]
    assert properties_of(raw, "AWS::IAM::Role")[role_id]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ] == {"Service": "apigateway.amazonaws.com"}
    assert "ManagedPolicyArns" not in properties_of(raw, "AWS::IAM::Role")[role_id]
    return statements_of(raw, role_id)


def processor(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(function_id, props)] = [
        (k, v)
        for k, v in properties_of(raw, "AWS::Lambda::Function").items()
        if v["Handler"].startswith("processor.")
    ]
    return function_id, props


def processor_statements(raw: dict[str, Any]) -> list[dict[str, Any]]:
    _, function = processor(raw)
    return statements_of(raw, function["Role"]["Fn::GetAtt"][0])


def table_with_key(raw: dict[str, Any], *, streaming: bool) -> str:
    [table_id] = [
        k
        for k, v in properties_of(raw, "AWS::DynamoDB::Table").items()
        if v["KeySchema"] == [{"AttributeName": "request_id", "KeyType": "HASH"}]
        and ("StreamSpecification" in v) == streaming
    ]
    return table_id


def template_text(value: Any) -> str:
    """A request or response template, with CloudFormation's Fn::Join of tokens flattened to text."""
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in value["Fn::Join"][1])


def uri_text(uri: dict[str, Any]) -> str:
    return template_text(uri)


def assert_tls_only_and_encrypted(raw: dict[str, Any], queue_id: str) -> None:
    assert properties_of(raw, "AWS::SQS::Queue")[queue_id]["SqsManagedSseEnabled"] is True
    [policy] = [
        p for p in properties_of(raw, "AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Queues"]
    ]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in policy["PolicyDocument"]["Statement"]


def assert_answers_202_with_request_id_and_hides_aws_errors(method: dict[str, Any]) -> None:
    integration = method["Integration"]
    assert integration["Type"] == "AWS", "a direct service integration, not AWS_PROXY to a function"
    assert integration["PassthroughBehavior"] == "NEVER"
    accepted, failed = integration["IntegrationResponses"]
    assert accepted["StatusCode"] == "202" and "SelectionPattern" not in accepted
    assert '"requestId": "$context.requestId"' in accepted["ResponseTemplates"]["application/json"]
    assert failed["StatusCode"] == "500"
    assert failed["SelectionPattern"] == r"4\d{2}|5\d{2}"
    refused = failed["ResponseTemplates"]["application/json"]
    assert '"message"' in refused and "responseOverride.status = 413" in refused
    assert (
        "$input.body.contains(" in refused and "$input.body\n" not in refused and "$input.json" not in refused
    ), "AWS's own error is read, never passed on"
    assert [r["StatusCode"] for r in method["MethodResponses"]] == ["202", "413", "500"]


# ------------------------------------------------------------------------------------------------ SQS (deployed)


@pytest.fixture(scope="module")
def raw(cloud_assembly) -> dict[str, Any]:
    return cloud_assembly.get_stack_by_name(STACK).template


@pytest.fixture(scope="module")
def template(raw) -> Template:
    return Template.from_json(raw)


@pytest.fixture(scope="module")
def queues(raw) -> tuple[str, str]:
    """(requests queue, its dead-letter queue) logical ids."""
    all_queues = properties_of(raw, "AWS::SQS::Queue")
    [inbox] = [k for k, v in all_queues.items() if "RedrivePolicy" in v]
    [dlq] = [k for k in all_queues if k != inbox]
    return inbox, dlq


def test_api_sends_straight_to_the_queue_with_no_function_in_between(raw, template, queues):
    inbox, _ = queues
    method = post_method(raw)
    integration = method["Integration"]
    uri = uri_text(integration["Uri"])
    assert ":apigateway:" in uri and ":sqs:path/" in uri
    assert json.dumps({"Fn::GetAtt": [inbox, "QueueName"]}) in uri
    assert integration["IntegrationHttpMethod"] == "POST"
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
    }
    request = template_text(integration["RequestTemplates"]["application/json"])
    assert request.startswith("Action=SendMessage&MessageBody=$util.urlEncode($input.body)")
    assert "MessageAttribute.1.Name=requestId" in request
    assert "$util.urlEncode($context.requestId)" in request
    assert_answers_202_with_request_id_and_hides_aws_errors(method)
    # No function is invocable by API Gateway at all.
    template.resource_count_is("AWS::Lambda::Permission", 0)


def test_post_requests_is_the_only_method_and_its_body_is_validated(raw):
    methods = properties_of(raw, "AWS::ApiGateway::Method")
    assert [m["HttpMethod"] for m in methods.values()] == ["POST"]
    [(resource_id, resource)] = properties_of(raw, "AWS::ApiGateway::Resource").items()
    assert resource["PathPart"] == "requests"
    method = post_method(raw)
    assert method["ResourceId"] == {"Ref": resource_id}
    model_id, model = only(raw, "AWS::ApiGateway::Model")
    assert method["RequestModels"] == {"application/json": {"Ref": model_id}}
    validator_id, validator = only(raw, "AWS::ApiGateway::RequestValidator")
    assert method["RequestValidatorId"] == {"Ref": validator_id}
    assert validator["ValidateRequestBody"] is True
    assert model["Schema"]["required"] == ["type", "payload"]
    assert model["Schema"]["additionalProperties"] is False


def test_api_model_accepts_what_the_processor_accepts(raw, load_processor_types):
    """The API rejects early what the processor would reject late: the two type lists agree."""
    _, model = only(raw, "AWS::ApiGateway::Model")
    contract = json.loads((FUNCTIONS_DIR / "storage_first" / "contract.json").read_text())
    assert model["Schema"]["properties"]["type"]["enum"] == contract["request_types"]
    assert list(load_processor_types) == contract["request_types"]


@pytest.fixture(scope="module")
def load_processor_types() -> tuple[str, ...]:
    """The request types as the handler module loads them (it reads the contract file beside it)."""
    import runpy
    from unittest import mock

    with mock.patch.dict("os.environ", {"PROCESSED_TABLE_NAME": "processed"}):
        module = runpy.run_path(str(FUNCTIONS_DIR / "storage_first" / "processor.py"))
    return module["REQUEST_TYPES"]


def test_api_role_may_only_send_to_that_one_queue(raw, queues):
    inbox, _ = queues
    assert api_role_statements(raw) == [
        {"Action": ["sqs:SendMessage"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [inbox, "Arn"]}}
    ]


def test_queue_redrives_to_its_dlq_after_three_receives(raw, queues):
    inbox, dlq = queues
    props = properties_of(raw, "AWS::SQS::Queue")[inbox]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 3,
    }
    _, function = processor(raw)
    assert props["VisibilityTimeout"] >= 6 * function["Timeout"], (
        "AWS: at least six times the function timeout"
    )
    assert properties_of(raw, "AWS::SQS::Queue")[dlq]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_queues_are_encrypted_and_tls_only(raw, queues):
    for queue in queues:
        assert_tls_only_and_encrypted(raw, queue)


def test_processor_drains_batches_of_ten_at_capped_concurrency_with_partial_failures(raw, queues):
    inbox, _ = queues
    function_id, function = processor(raw)
    assert function["Handler"] == "processor.sqs_handler"
    _, mapping = only(raw, "AWS::Lambda::EventSourceMapping")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [inbox, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": function_id}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_processor_only_dynamodb_grant_is_put_item_on_the_processed_table(raw):
    processed = table_with_key(raw, streaming=False)
    _, function = processor(raw)
    assert function["Environment"]["Variables"]["PROCESSED_TABLE_NAME"] == {"Ref": processed}
    dynamodb_statements = [
        s for s in processor_statements(raw) if any(a.startswith("dynamodb:") for a in s["Action"])
    ]
    assert dynamodb_statements == [
        {"Action": ["dynamodb:PutItem"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [processed, "Arn"]}}
    ]
    for statement in processor_statements(raw):
        assert "*" not in "".join(statement["Action"]), statement


def test_processed_table_is_on_demand_encrypted_with_pitr(raw):
    table = properties_of(raw, "AWS::DynamoDB::Table")[table_with_key(raw, streaming=False)]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_outputs_name_the_post_url_and_the_queues(raw):
    outputs = raw["Outputs"]
    assert {"ApiUrl", "QueueUrl", "DeadLetterQueueUrl", "ProcessedTableName"} <= set(outputs)
    assert template_text(outputs["ApiUrl"]["Value"]).endswith("/requests")


# ------------------------------------------------------------------------------------------------ other variants


@pytest.fixture(scope="module")
def variants(cloud_assembly, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The registered dynamodb and eventbridge variants, and one with an existing table (gated by
    cdk-nag in an app of its own)."""
    app = new_app(builtin_validation=False, outdir=str(tmp_path_factory.mktemp("storage-first-existing")))
    existing = Stack(app, "StorageFirst-existing-table")
    StorageFirstQueue(
        existing,
        "Pattern",
        processed_table=dynamodb.Table.from_table_name(existing, "Processed", "processed-elsewhere"),
    )
    [stack] = app.synth().stacks  # raises on any unacknowledged cdk-nag finding
    return {
        "dynamodb": cloud_assembly.get_stack_by_name("StorageFirstDynamodbStack").template,
        "eventbridge": cloud_assembly.get_stack_by_name("StorageFirstEventbridgeStack").template,
        "existing-table": stack.template,
    }


def test_existing_table_variant_passes_cfn_lint(variants):
    assert lint_template(variants["existing-table"]) == []


def test_dynamodb_variant_api_puts_the_raw_body_into_the_requests_table(variants):
    raw = variants["dynamodb"]
    requests_table = table_with_key(raw, streaming=True)
    method = post_method(raw)
    integration = method["Integration"]
    assert uri_text(integration["Uri"]).endswith(":dynamodb:action/PutItem")
    request = template_text(integration["RequestTemplates"]["application/json"])
    assert f'"TableName": "{json.dumps({"Ref": requests_table})}"' in request
    assert '"request_id": {"S": "$context.requestId"}' in request
    assert '"body": {"S": "$util.escapeJavaScript($input.body)' in request
    assert "Item size has exceeded" in template_text(
        integration["IntegrationResponses"][1]["ResponseTemplates"]["application/json"]
    )
    assert '"received_at": {"N": "$context.requestTimeEpoch"}' in request
    assert_answers_202_with_request_id_and_hides_aws_errors(method)
    assert api_role_statements(raw) == [
        {
            "Action": ["dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [requests_table, "Arn"]},
        }
    ]
    table = properties_of(raw, "AWS::DynamoDB::Table")[requests_table]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_dynamodb_variant_stream_bisects_retries_and_ends_in_a_queue(variants):
    raw = variants["dynamodb"]
    requests_table = table_with_key(raw, streaming=True)
    function_id, function = processor(raw)
    assert function["Handler"] == "processor.stream_handler"
    [failure_queue] = properties_of(raw, "AWS::SQS::Queue")
    _, mapping = only(raw, "AWS::Lambda::EventSourceMapping")
    assert mapping == {
        "BatchSize": 10,
        "BisectBatchOnFunctionError": True,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failure_queue, "Arn"]}}},
        "EventSourceArn": {"Fn::GetAtt": [requests_table, "StreamArn"]},
        "FilterCriteria": {
            "Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]}, separators=(",", ":"))}]
        },
        "FunctionName": {"Ref": function_id},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": 3,
        "StartingPosition": "TRIM_HORIZON",
    }
    assert_tls_only_and_encrypted(raw, failure_queue)


def test_dynamodb_variant_processor_reads_only_the_stream_and_writes_only_processed(variants):
    raw = variants["dynamodb"]
    requests_table = table_with_key(raw, streaming=True)
    processed = table_with_key(raw, streaming=False)
    grants = {
        action: statement["Resource"]
        for statement in processor_statements(raw)
        for action in statement["Action"]
        if action.startswith("dynamodb:")
    }
    assert grants == {
        "dynamodb:PutItem": {"Fn::GetAtt": [processed, "Arn"]},
        "dynamodb:DescribeStream": {"Fn::GetAtt": [requests_table, "StreamArn"]},
        "dynamodb:GetRecords": {"Fn::GetAtt": [requests_table, "StreamArn"]},
        "dynamodb:GetShardIterator": {"Fn::GetAtt": [requests_table, "StreamArn"]},
        # Lambda's stream poller lists streams; the action has no resource-level permissions.
        "dynamodb:ListStreams": "*",
    }


def test_eventbridge_variant_api_puts_events_on_its_own_bus(variants):
    raw = variants["eventbridge"]
    bus_id, _ = only(raw, "AWS::Events::EventBus")
    method = post_method(raw)
    integration = method["Integration"]
    assert uri_text(integration["Uri"]).endswith(":events:action/PutEvents")
    assert integration["RequestParameters"] == {
        "integration.request.header.X-Amz-Target": "'AWSEvents.PutEvents'",
        "integration.request.header.Content-Type": "'application/x-amz-json-1.1'",
    }
    request = template_text(integration["RequestTemplates"]["application/json"])
    assert '"Source": "storage-first.api"' in request
    assert '"DetailType": "Request"' in request
    assert f'"EventBusName": "{json.dumps({"Ref": bus_id})}"' in request
    assert '\\"request_id\\": \\"$context.requestId\\"' in request
    assert_answers_202_with_request_id_and_hides_aws_errors(method)
    accepted = integration["IntegrationResponses"][0]["ResponseTemplates"]["application/json"]
    assert "FailedEntryCount" in accepted and "responseOverride.status = 500" in accepted
    assert api_role_statements(raw) == [
        {"Action": ["events:PutEvents"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}}
    ]


def test_eventbridge_variant_rule_retries_then_dead_letters(variants):
    raw = variants["eventbridge"]
    bus_id, _ = only(raw, "AWS::Events::EventBus")
    function_id, function = processor(raw)
    assert function["Handler"] == "processor.event_handler"
    [failure_queue] = properties_of(raw, "AWS::SQS::Queue")
    rule_id, rule = only(raw, "AWS::Events::Rule")
    assert rule["EventBusName"] == {"Ref": bus_id}
    assert rule["EventPattern"] == {"source": ["storage-first.api"], "detail-type": ["Request"]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [failure_queue, "Arn"]}}
    # A failed invocation is Lambda's to retry (async), then goes to the same queue.
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [failure_queue, "Arn"]}}
    _, invoke_config = only(raw, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert_tls_only_and_encrypted(raw, failure_queue)
    [policy] = properties_of(raw, "AWS::SQS::QueuePolicy").values()
    [from_rule] = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert from_rule["Action"] == "sqs:SendMessage"
    assert from_rule["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_eventbridge_variant_archives_requests_for_replay(variants):
    raw = variants["eventbridge"]
    bus_id, _ = only(raw, "AWS::Events::EventBus")
    _, archive = only(raw, "AWS::Events::Archive")
    assert archive["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["EventPattern"] == {"source": ["storage-first.api"], "detail-type": ["Request"]}
    assert archive["RetentionDays"] == 7


def test_existing_processed_table_is_used_and_granted_put_item_only(variants):
    raw = variants["existing-table"]
    assert not properties_of(raw, "AWS::DynamoDB::Table"), "no table is created when one is given"
    _, function = processor(raw)
    assert function["Environment"]["Variables"]["PROCESSED_TABLE_NAME"] == "processed-elsewhere"
    [statement] = [
        s for s in processor_statements(raw) if any(a.startswith("dynamodb:") for a in s["Action"])
    ]
    assert statement["Action"] == ["dynamodb:PutItem"]
    assert ":table/processed-elsewhere" in template_text(statement["Resource"])


# ------------------------------------------------------------------------------------------------ props


@pytest.mark.parametrize(
    ("construct", "prop"),
    [
        (StorageFirstTable, "max_receive_count"),
        (StorageFirstEventBus, "batch_size"),
        (StorageFirstQueue, "retry_attempts"),
    ],
)
def test_each_construct_takes_only_its_own_storages_props(construct, prop):
    with pytest.raises(TypeError, match=prop):
        construct(Stack(App(builtin_cloud_formation_validation=False)), "Pattern", **{prop: 1})


def test_each_construct_exposes_only_its_own_storage():
    stack = Stack(App(builtin_cloud_formation_validation=False))
    made = {
        cls: cls(stack, cls.__name__) for cls in (StorageFirstQueue, StorageFirstTable, StorageFirstEventBus)
    }
    own = {StorageFirstQueue: "queue", StorageFirstTable: "requests_table", StorageFirstEventBus: "event_bus"}
    for cls, construct in made.items():
        assert isinstance(construct, StorageFirstBase)
        assert construct.dead_letter_queue is not None and construct.function is not None
        assert {name for name in own.values() if hasattr(construct, name)} == {own[cls]}
