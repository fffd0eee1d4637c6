"""Contracts a construct and its handlers both read have one source, and the template carries it.

The handlers' side of each is tested in tests/unit (a handler loaded with another value follows
it); here, the construct gives the handlers the value its resources were built with.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from patterns.defaults import FUNCTIONS_DIR
from tests.infra.conftest import properties_of

pytestmark = pytest.mark.infra


def function_environments(template: dict) -> dict[str, dict]:
    """Each function's environment, by its handler."""
    return {
        props["Handler"]: props.get("Environment", {}).get("Variables", {})
        for props in properties_of(template, "AWS::Lambda::Function").values()
    }


def test_the_state_machine_functions_query_the_index_the_drivers_table_has(templates):
    template = templates["StateMachineStack"]
    tables = properties_of(template, "AWS::DynamoDB::Table")
    [index] = [i["IndexName"] for t in tables.values() for i in t.get("GlobalSecondaryIndexes", [])]
    environments = function_environments(template)
    assert len(environments) == 6
    assert {env["DRIVERS_ZONE_STATUS_INDEX"] for env in environments.values()} == {index}


def test_the_router_follows_the_route_table_its_tasks_were_built_from(templates):
    from patterns.router import ROUTES

    environments = function_environments(templates["RouterStack"])
    assert json.loads(environments["router.handler"]["ROUTES"]) == ROUTES
    assert {f"tasks.{task}_handler" for task in ROUTES.values()} == set(environments) - {"router.handler"}


def test_the_handoff_worker_writes_expiry_where_the_table_ttl_looks(templates):
    template = templates["InternalHandoffStack"]
    ttl = [
        t["TimeToLiveSpecification"]["AttributeName"]
        for t in properties_of(template, "AWS::DynamoDB::Table").values()
        if "TimeToLiveSpecification" in t
    ]
    assert ttl == [function_environments(template)["worker.handler"]["IDEMPOTENCY_TTL_ATTRIBUTE"]]


def test_a_changed_token_format_reaches_api_gateway_the_admin_model_and_the_handlers(tmp_path, monkeypatch):
    """Edit gatekeeper's token_format.json once: the validation expression, the model and the parser follow."""
    from patterns.gatekeeper import Gatekeeper

    folder = tmp_path / "gatekeeper"
    shutil.copytree(FUNCTIONS_DIR / "gatekeeper", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "token_format.json").write_text(
        json.dumps({"principal_id": "[A-Z][A-Z0-9]{0,15}", "secret": "[A-Za-z0-9_-]{43}"})
    )
    stack = Stack(App(builtin_cloud_formation_validation=False), "Contract")
    Gatekeeper(stack, "Gate", code_dir=folder)
    template = Template.from_stack(stack).to_json()
    [authorizer] = properties_of(template, "AWS::ApiGateway::Authorizer").values()
    header = authorizer["IdentityValidationExpression"]
    models = {
        m["Schema"].get("title"): m["Schema"]
        for m in properties_of(template, "AWS::ApiGateway::Model").values()
    }
    assert models["NewPrincipal"]["properties"]["principal_id"]["pattern"] == "^[A-Z][A-Z0-9]{0,15}$"

    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "principals", raising=False)
    principals = importlib.import_module("principals")
    token, _ = principals.new_token("SVC1")
    for candidate in (f"Bearer {token}", f"Bearer {token.lower()}", "Bearer svc1.x"):
        assert bool(re.match(header, candidate)) == (principals.bearer_token(candidate) is not None), (
            candidate
        )
    assert principals.bearer_token(f"Bearer {token}") is not None
    assert principals.PRINCIPAL_ID.match("SVC1") and not principals.PRINCIPAL_ID.match("svc1")
