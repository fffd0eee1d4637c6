"""What makes the scalable webhook: a buffer with a DLQ, a capped worker, partial batches, scoped grants."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template

from patterns.scalable_webhook import ScalableWebhook
from tests.infra.conftest import assertions_template, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "ScalableWebhookStack"


@pytest.fixture(scope="module")
def template(templates):
    return assertions_template(templates, STACK)


def queue_ids(raw):
    queues = resources_of(raw, "AWS::SQS::Queue")
    [inbox] = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    [dlq] = [k for k in queues if k != inbox]
    return inbox, dlq


def test_inbox_redrives_to_the_dlq_after_three_receives(templates):
    raw = templates[STACK]
    inbox, dlq = queue_ids(raw)
    props = raw["Resources"][inbox]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert props["VisibilityTimeout"] == 180, "six times the worker's 30 s timeout"
    for queue in (inbox, dlq):
        assert raw["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True
    assert raw["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_queues_refuse_plain_http(template):
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def test_worker_drains_at_capped_concurrency_with_partial_batch_responses(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    [mapping] = resources_of(raw, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [inbox, "Arn"]}
    assert props["BatchSize"] == 10
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_grants_are_scoped_to_one_resource_each(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    statements = statements_of(raw)
    sends = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [inbox, "Arn"]}]
    writes = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert writes == [
        {"Action": ["dynamodb:PutItem"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [table, "Arn"]}}
    ]


def test_the_receiver_may_read_the_signing_secret_and_nothing_else_of_secrets_manager(templates):
    raw = templates[STACK]
    [secret_id] = resources_of(raw, "AWS::SecretsManager::Secret")
    secret = raw["Resources"][secret_id]["Properties"]
    assert "Name" not in secret, "no physical name"
    assert secret["GenerateSecretString"] == {
        "ExcludePunctuation": True,
        "IncludeSpace": False,
        "PasswordLength": 64,
    }
    reads = [s for s in statements_of(raw) if any(a.startswith("secretsmanager:") for a in s["Action"])]
    assert reads == [
        {"Action": ["secretsmanager:GetSecretValue"], "Effect": "Allow", "Resource": {"Ref": secret_id}}
    ]
    [receiver] = [
        v["Properties"]
        for v in resources_of(raw, "AWS::Lambda::Function").values()
        if v["Properties"]["Handler"] == "receiver.handler"
    ]
    env = receiver["Environment"]["Variables"]
    assert env["SIGNING_SECRET_ARN"] == {"Ref": secret_id}
    assert env["SIGNATURE_TOLERANCE_SECONDS"] == "300"


def test_an_existing_secret_known_by_name_is_granted_by_its_arn_pattern():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    from aws_cdk import aws_secretsmanager as secretsmanager

    existing = secretsmanager.Secret.from_secret_name_v2(stack, "Existing", "payments/webhook")
    ScalableWebhook(stack, "Hook", signing_secret=existing, signature_tolerance=Duration.minutes(2))
    raw = Template.from_stack(stack).to_json()
    assert resources_of(raw, "AWS::SecretsManager::Secret") == {}
    [read] = [s for s in statements_of(raw) if "secretsmanager:GetSecretValue" in s["Action"]]
    assert read["Resource"]["Fn::Join"][1][-1].endswith(":secret:payments/webhook-??????")


def test_the_api_model_is_the_contract_the_handlers_read(templates):
    import json

    from patterns.registry import ROOT

    contract_file = ROOT / "functions" / "scalable_webhook" / "webhook_contract.json"
    contract = json.loads(contract_file.read_text())["event_schema"]
    [model] = [
        v["Properties"]
        for v in resources_of(templates[STACK], "AWS::ApiGateway::Model").values()
        if v["Properties"]["Schema"].get("title") == "WebhookEvent"
    ]
    assert model["Schema"] == contract


def test_the_post_method_tells_the_local_cloud_how_calls_are_signed(templates):
    """``serve`` prints a Try line that signs as the receiver checks: the contract's headers, its
    prefix, ``<timestamp>.<body>`` and the signing secret, in the method's metadata."""
    import json

    from patterns.registry import ROOT

    contract_file = ROOT / "functions" / "scalable_webhook" / "webhook_contract.json"
    signature = json.loads(contract_file.read_text())["signature"]
    raw = templates[STACK]
    [method] = [
        v
        for v in resources_of(raw, "AWS::ApiGateway::Method").values()
        if v["Properties"]["HttpMethod"] == "POST"
    ]
    [secret] = resources_of(raw, "AWS::SecretsManager::Secret")
    assert method["Metadata"]["localcloud:signed-request"] == {
        "algorithm": "HMAC-SHA256",
        "secret": {"Ref": secret},
        "message": "{timestamp}.{body}",
        "headers": {
            signature["timestamp_header"]: "{timestamp}",
            signature["signature_header"]: signature["prefix"] + "{signature}",
        },
    }


def test_api_throttles_and_validates_the_webhook_body(template):
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"MethodSettings": Match.array_with([Match.object_like({"ThrottlingRateLimit": 500})])},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "POST", "RequestValidatorId": Match.any_value(), "RequestModels": Match.any_value()},
    )


def synth_webhook(**props) -> Template:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    ScalableWebhook(stack, "Hook", **props)
    return Template.from_stack(stack)


def test_props_reach_the_template():
    template = synth_webhook(max_concurrency=7, batch_size=50, max_batching_window=Duration.seconds(5))
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 5, "ScalingConfig": {"MaximumConcurrency": 7}},
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"max_concurrency": 1}, "max_concurrency must be from 2 to 1000"),
        ({"batch_size": 100}, "needs a max_batching_window"),
        ({"signature_tolerance": Duration.hours(2)}, "signature_tolerance must be from 1 s to 1 hour"),
    ],
)
def test_contradictory_props_fail_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        synth_webhook(**props)
