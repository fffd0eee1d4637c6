"""Gates every registered stack must pass: synth, cdk-nag, cfn-lint, no '*' actions, no physical names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.grant_mutation import XRAY_SAMPLING_ACTIONS
from localcloud.services.stepfunctions.provision import LOG_DELIVERY_ACTIONS
from patterns.registry import PATTERNS
from patterns.stack import API_GATEWAY_ACCOUNT_STACK
from tests.infra.conftest import lint_template, properties_of

pytestmark = pytest.mark.infra

STACKS = [
    *(
        pytest.param(name, id=p.id if name == p.stack_name else name)
        for p in PATTERNS
        for name in p.stack_names()
    ),
    pytest.param(API_GATEWAY_ACCOUNT_STACK, id="api_gateway_account"),
]

#: Properties that would give a resource a fixed name, so two copies of a stack could not coexist.
PHYSICAL_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::ApiGateway::ApiKey": "Name",
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SSM::Parameter": "Name",
}


def policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in a template: roles, policies, queue, topic and bucket policies."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list):
            yield from (s for s in statements if isinstance(s, dict))
        for value in node.values():
            yield from policy_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from policy_statements(value)


def grant_statements(resources: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """:func:`policy_statements`, but for the statement of a KMS key's policy that hands the key to the
    account's IAM policies (AWS's default, ``kms:*`` for the account root on ``*``, the key itself):
    without it no IAM grant on the key works, and the IAM grants are what these gates check."""
    for resource in resources.values():
        if resource.get("Type") != "AWS::KMS::Key":
            yield from policy_statements(resource)
            continue
        for statement in policy_statements(resource):
            principal = json.dumps(statement.get("Principal", {}))
            if not (statement.get("Action") == "kms:*" and ":root" in principal):
                yield statement


@pytest.mark.parametrize("stack_name", STACKS)
def test_stack_synthesizes_with_resources(templates, stack_name):
    assert templates[stack_name]["Resources"], f"{stack_name} synthesized no resources"


@pytest.mark.parametrize("stack_name", STACKS)
def test_cdk_nag_reports_nothing_unacknowledged(nag_report, stack_name):
    """Synth already raises on an open finding; this also checks every acknowledgment is reasoned."""
    packs = {report["pluginName"] for report in nag_report["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= packs
    for report in nag_report["pluginReports"]:
        open_findings = [
            c["constructPath"]
            for v in report["violations"]
            for c in v["violatingConstructs"]
            if c["constructPath"].startswith(f"{stack_name}/")
        ]
        assert not open_findings, f"{report['pluginName']}: {open_findings}"
        for violation in report.get("suppressedViolations", []):
            for construct in violation["violatingConstructs"]:
                if not construct["constructPath"].startswith(f"{stack_name}/"):
                    continue
                where = violation["acknowledgedAt"]
                assert where.startswith(f"{stack_name}/"), (
                    f"{violation['ruleName']} acknowledged on the stack"
                )
                assert len(violation["reason"].strip()) >= 20, (
                    f"{violation['ruleName']} at {where}: no reason"
                )


@pytest.mark.parametrize("stack_name", STACKS)
def test_cfn_lint_is_clean(templates, stack_name):
    assert lint_template(templates[stack_name]) == []


def test_cfn_lint_gate_reports_warnings():
    """The gate itself can fail: an unused parameter is a cfn-lint warning."""
    template = {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    assert any(finding.startswith("W2001") for finding in lint_template(template))


def test_cfn_lint_skips_only_a_template_it_found_clean_before(tmp_path, monkeypatch):
    """Its clean answers are kept between runs; one changed byte, or a finding, is linted again."""
    from tests.infra import conftest

    runner, linted = conftest._cfn_lint_runner(), []

    class Counting:
        def validate_template(self, decoded):
            linted.append(decoded)
            return runner.validate_template(decoded)

    monkeypatch.setattr(conftest, "CLEAN_TEMPLATES", tmp_path / "clean")
    monkeypatch.setattr(conftest, "_cfn_lint_runner", Counting)
    clean = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    assert lint_template(clean) == [] and lint_template(clean) == []
    assert len(linted) == 1
    unused = {"Parameters": {"Unused": {"Type": "String"}}, **clean}
    assert lint_template(unused) == lint_template(unused) != []
    assert len(linted) == 3
    assert lint_template({"Resources": {"Topic": {"Type": "AWS::SNS::Topics"}}}) != []
    assert len(linted) == 4
    for run in ("/tmp/run-1/cdk.out", "/tmp/run-2/cdk.out"):  # the same asset, where a run put it
        metadata = {"aws:asset:path": f"{run}/asset.0123abcd"}
        assert (
            lint_template({"Resources": {"Topic": {**clean["Resources"]["Topic"], "Metadata": metadata}}})
            == []
        )
    assert len(linted) == 5


@pytest.mark.parametrize("stack_name", STACKS)
def test_no_statement_grants_wildcard_actions(templates, stack_name):
    """Deny statements may be broad (the TLS-only policies deny ``sqs:*``); grants may not."""
    broad = []
    for statement in grant_statements(templates[stack_name]["Resources"]):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                broad.append(action)
        assert "NotAction" not in statement, "NotAction grants everything it does not name"
    assert broad == []


@pytest.mark.parametrize("stack_name", STACKS)
def test_no_resource_has_a_physical_name(templates, stack_name):
    named = [
        f"{logical_id}.{PHYSICAL_NAME_PROPERTIES[resource['Type']]}"
        for logical_id, resource in templates[stack_name]["Resources"].items()
        if PHYSICAL_NAME_PROPERTIES.get(resource["Type"]) in resource.get("Properties", {})
    ]
    assert named == []


#: Actions that take no resource-level permissions, so they are the only ones allowed on "*".
UNSCOPABLE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "dynamodb:ListStreams",
    # Lambda checks a VPC function's role for these on "*" when it attaches the function.
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    *XRAY_SAMPLING_ACTIONS,
    *LOG_DELIVERY_ACTIONS,
}


@pytest.mark.parametrize("stack_name", STACKS)
def test_only_unscopable_actions_are_granted_on_every_resource(templates, stack_name):
    """The reason given for acknowledging AwsSolutions-IAM5 in PatternFunction, held true."""
    on_everything = set()
    # In a KMS key's policy "*" is the key itself (a key policy names no other resource).
    resources = {
        k: v for k, v in templates[stack_name]["Resources"].items() if v.get("Type") != "AWS::KMS::Key"
    }
    for statement in grant_statements(resources):
        resources = statement.get("Resource", [])
        if statement.get("Effect") == "Allow" and "*" in (
            [resources] if isinstance(resources, str) else resources
        ):
            actions = statement["Action"]
            on_everything |= {actions} if isinstance(actions, str) else set(actions)
    assert on_everything <= UNSCOPABLE_ACTIONS


@pytest.mark.parametrize("stack_name", STACKS)
def test_every_api_stage_is_traced_access_logged_and_throttled(templates, stack_name):
    stages = properties_of(templates[stack_name], "AWS::ApiGateway::Stage")
    for stage in stages.values():
        assert stage["TracingEnabled"] is True
        assert stage["AccessLogSetting"]["DestinationArn"]
        assert json.loads(stage["AccessLogSetting"]["Format"]), "access logs are structured JSON"
        [settings] = stage["MethodSettings"]
        assert settings["HttpMethod"] == "*" and settings["ResourcePath"] == "/*"
        assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
        assert settings["DataTraceEnabled"] is False, "request bodies stay out of execution logs"
