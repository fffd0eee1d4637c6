"""One stack owns API Gateway's account-level logging role; pattern stacks neither set nor retain it."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from patterns.defaults import SecureRestApi
from patterns.registry import PATTERNS
from patterns.stack import API_GATEWAY_ACCOUNT_STACK
from tests.infra.conftest import resources_of

pytestmark = pytest.mark.infra


def stack_types(template: dict) -> set[str]:
    return {resource["Type"] for resource in template["Resources"].values()}


def test_the_account_stack_owns_the_role_and_setting_and_destroy_removes_both(templates):
    raw = templates[API_GATEWAY_ACCOUNT_STACK]
    [role_id] = resources_of(raw, "AWS::IAM::Role")
    [account] = resources_of(raw, "AWS::ApiGateway::Account").values()
    assert account["Properties"] == {"CloudWatchRoleArn": {"Fn::GetAtt": [role_id, "Arn"]}}
    assert role_id in account["DependsOn"]
    role = raw["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    assert {r.get("DeletionPolicy", "Delete") for r in raw["Resources"].values()} == {"Delete"}


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.id for p in PATTERNS])
def test_no_pattern_stack_sets_or_retains_the_account_setting(templates, pattern):
    raw = templates[pattern.stack_name]
    assert "AWS::ApiGateway::Account" not in stack_types(raw)
    retained = [k for k, r in raw["Resources"].items() if r.get("DeletionPolicy", "Delete") != "Delete"]
    assert retained == [], "cdk destroy removes everything the stack made"


def test_stacks_with_an_api_are_deployed_after_the_account_stack(cloud_assembly, templates):
    depends = {stack.stack_name: {d.id for d in stack.dependencies} for stack in cloud_assembly.stacks}
    with_api = {name for name, raw in templates.items() if "AWS::ApiGateway::RestApi" in stack_types(raw)}
    assert with_api and API_GATEWAY_ACCOUNT_STACK not in with_api
    assert {name for name, found in depends.items() if API_GATEWAY_ACCOUNT_STACK in found} == with_api


def test_an_api_may_still_set_the_account_role_itself_and_then_keeps_it():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Alone")
    api = SecureRestApi(stack, "Api", description="alone", cloud_watch_role=True)
    api.root.add_method("GET")
    raw = Template.from_stack(stack).to_json()
    [account] = resources_of(raw, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"
