"""A state machine definition whose ``States`` (or one of its states, branches or iterations) is not
an object is refused as Step Functions refuses it, ``InvalidDefinition`` with "Invalid State Machine
Definition: 'SCHEMA_VALIDATION_FAILED: ... at <path>'" (the form localstack's snapshots record from
AWS, such as "These fields are required: [States] at /"), where the check raised ``AttributeError``
and moto's parser answered an error without a code. The words after ``SCHEMA_VALIDATION_FAILED:`` for
a value of the wrong type are this cloud's: no recorded answer of AWS's was found for one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.errors import StateMachineDefinitionError
from localcloud.services.stepfunctions.definition import check

pytestmark = pytest.mark.localcloud

ROLE = "arn:aws:iam::123456789012:role/machine"
PASS = {"Type": "Pass", "End": True}

SHAPES = [
    ({"StartAt": "A", "States": []}, "Value must be an object at /States"),
    ({"StartAt": "A", "States": "A"}, "Value must be an object at /States"),
    ({"StartAt": "A", "States": {"A": "Pass"}}, "Value must be an object at /States/A"),
    ({"StartAt": "A", "States": {"A": ["Pass"]}}, "Value must be an object at /States/A"),
    ([], "Value must be an object at /"),
    ({"StartAt": "A"}, "These fields are required: [States] at /"),
    (
        {
            "StartAt": "P",
            "States": {"P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": 1}], "End": True}},
        },
        "Value must be an object at /States/P/Branches/0/States",
    ),
    (
        {
            "StartAt": "M",
            "States": {
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": None}}, "End": True}
            },
        },
        "Value must be an object at /States/M/ItemProcessor/States/I",
    ),
]


@pytest.mark.parametrize(("definition", "problem"), SHAPES)
def test_a_definition_of_the_wrong_shape_is_refused_as_an_invalid_definition(definition, problem):
    with pytest.raises(StateMachineDefinitionError) as refused:
        check("orders", json.dumps(definition))
    assert str(refused.value) == (
        "state machine orders: InvalidDefinition: Invalid State Machine Definition: "
        f"'SCHEMA_VALIDATION_FAILED: {problem}'"
    )


def test_a_well_formed_definition_passes_the_shape_check():
    check("orders", json.dumps({"StartAt": "A", "States": {"A": PASS}}))


def test_a_template_with_states_that_are_not_an_object_fails_the_deployment():
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": ROLE,
                    "DefinitionString": json.dumps({"StartAt": "A", "States": []}),
                },
            }
        }
    }
    cloud = LocalCloud(StackArtifact("Machines", template, Path(".")))
    try:
        with pytest.raises(
            StateMachineDefinitionError, match="SCHEMA_VALIDATION_FAILED: Value must be an object"
        ):
            cloud.start()
    finally:
        cloud.stop()


def test_create_and_update_state_machine_answer_invalid_definition():
    with LocalCloud(StackArtifact("Empty", {"Resources": {}}, Path("."))) as cloud:
        sfn = cloud.client("stepfunctions")
        with pytest.raises(ClientError) as refused:
            sfn.create_state_machine(
                name="m", roleArn=ROLE, definition=json.dumps({"StartAt": "A", "States": []})
            )
        error = refused.value.response
        assert error["Error"]["Code"] == "InvalidDefinition"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == (
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Value must be an object at /States'"
        )
        arn = sfn.create_state_machine(
            name="m", roleArn=ROLE, definition=json.dumps({"StartAt": "A", "States": {"A": PASS}})
        )["stateMachineArn"]
        with pytest.raises(sfn.exceptions.InvalidDefinition, match="at /States/A'"):
            sfn.update_state_machine(
                stateMachineArn=arn, definition=json.dumps({"StartAt": "A", "States": {"A": "x"}})
            )
