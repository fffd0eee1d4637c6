"""What makes Step Functions CRUD: an Express workflow with DynamoDB integrations and no Lambda,
started synchronously by API Gateway's own role, its errors mapped to HTTP statuses."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack

from patterns.defaults import SecureDefaultOverridden
from patterns.sfn_crud import ERROR_STATUS, MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_PRICE, MIN_PRICE, SfnCrud
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "SfnCrudStack"


def definition_of(raw) -> dict:
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    parts = machine["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<Ref>" for p in parts))


def test_an_express_workflow_logged_without_data_traced_and_without_lambda(templates):
    raw = templates[STACK]
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    assert machine["StateMachineType"] == "EXPRESS"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert (
        machine["LoggingConfiguration"]["Level"],
        machine["LoggingConfiguration"]["IncludeExecutionData"],
    ) == (
        "ALL",
        False,
    )
    assert not resources_of(raw, "AWS::Lambda::Function")


def test_a_choice_on_the_method_routes_to_one_dynamodb_integration_each(templates):
    definition = definition_of(templates[STACK])
    states = definition["States"]
    assert definition["StartAt"] == "ValidId?"
    assert states["ValidId?"]["Choices"][0]["Next"] == "Method?"
    route = states["Method?"]
    assert {(c["StringEquals"], c["Next"]) for c in route["Choices"]} == {
        ("GET", "GetItem"),
        ("PUT", "ValidBody?"),
        ("DELETE", "DeleteItem"),
    }
    assert route["Default"] == "MethodNotAllowed"
    resources = {name: s["Resource"] for name, s in states.items() if s["Type"] == "Task"}
    assert {name: r.rsplit(":::", 1)[-1] for name, r in resources.items()} == {
        "GetItem": "dynamodb:getItem",
        "PutItem": "dynamodb:putItem",
        "DeleteItem": "dynamodb:deleteItem",
    }
    assert states["DeleteItem"]["Parameters"]["ConditionExpression"] == "attribute_exists(id)"
    assert states["DeleteItem"]["Catch"] == [
        {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "NotFound"}
    ]
    assert states["ValidBody?"]["Default"] == "InvalidBody"
    assert states["PutItem"]["Catch"] == [
        {"ErrorEquals": ["DynamoDB.ValidationException"], "Next": "InvalidBody"}
    ]
    assert {
        states[name]["Error"] for name in ("NotFound", "InvalidBody", "InvalidId", "MethodNotAllowed")
    } == set(ERROR_STATUS)


def test_the_integration_response_maps_the_executions_errors_to_statuses(templates):
    raw = templates[STACK]
    methods = properties_of(raw, "AWS::ApiGateway::Method")
    assert sorted(m["HttpMethod"] for m in methods.values()) == ["DELETE", "GET", "PUT"]
    for method in methods.values():
        integration = method["Integration"]
        assert integration["Type"] == "AWS"
        assert integration["Uri"]["Fn::Join"][1][-1].endswith(":states:action/StartSyncExecution")
        assert integration["PassthroughBehavior"] == "NEVER"
        request = "".join(
            p if isinstance(p, str) else "<token>"
            for p in integration["RequestTemplates"]["application/json"]["Fn::Join"][1]
        )
        assert f"$id.substring(0, {2 * MAX_ID_LENGTH + 1})" in request, (
            "no id can outgrow the execution input"
        )
        assert f'\\"method\\": \\"{method["HttpMethod"]}\\"' in request, "the method is a literal"
        [ok, failed] = integration["IntegrationResponses"]
        template = ok["ResponseTemplates"]["application/json"]
        for error, status in ERROR_STATUS.items():
            assert f'$error == "{error}")\n#set($context.responseOverride.status = {status})' in template
        assert (failed["StatusCode"], failed["SelectionPattern"]) == ("500", r"4\d{2}|5\d{2}")
    [put] = [m for m in methods.values() if m["HttpMethod"] == "PUT"]
    assert put["RequestValidatorId"], "API Gateway refuses a body that breaks the item model"
    [model] = properties_of(raw, "AWS::ApiGateway::Model").values()
    properties = model["Schema"]["properties"]
    assert (model["Schema"]["additionalProperties"], properties["price"]["maximum"]) == (False, MAX_PRICE)
    assert properties["price"]["anyOf"] == [{"maximum": 0}, {"minimum": MIN_PRICE}], "0 or at least a cent"
    assert properties["name"]["maxLength"] == MAX_NAME_LENGTH


def test_api_gateway_may_only_start_this_workflow_synchronously(templates):
    raw = templates[STACK]
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine")
    [method] = [m for m in properties_of(raw, "AWS::ApiGateway::Method").values() if m["HttpMethod"] == "GET"]
    role = method["Integration"]["Credentials"]["Fn::GetAtt"][0]
    assert statements_of(raw, role) == [
        {"Action": ["states:StartSyncExecution"], "Effect": "Allow", "Resource": {"Ref": machine}}
    ]
    machine_role = properties_of(raw, "AWS::StepFunctions::StateMachine")[machine]["RoleArn"]["Fn::GetAtt"][0]
    [table] = properties_of(raw, "AWS::DynamoDB::Table")
    data = [
        s for s in statements_of(raw, machine_role) if any(a.startswith("dynamodb:") for a in s["Action"])
    ]
    assert sorted(a for s in data for a in s["Action"]) == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    assert all(s["Resource"]["Fn::Join"][1][-1] == {"Ref": table} for s in data), "that one table only"


def test_logging_the_items_warns_that_a_secure_default_is_off():
    with pytest.warns(SecureDefaultOverridden, match="include_execution_data"):
        SfnCrud(Stack(App(), "Variant"), "Pattern", include_execution_data=True)
