"""An ``AWS::StepFunctions::StateMachine`` provisioned as CloudFormation creates it, each case by
its own call of the provisioner (not inside a fixture's stack, where one test would be credited
with all of them): the 80-character name limit, generated or given, what CreateStateMachine gets
by default and when the template says, ``DefinitionSubstitutions``, a definition the local cloud
cannot run refused before anything is created, and the attributes ``Fn::GetAtt`` reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest, StateMachineDefinitionError, TemplateError
from localcloud.services.stepfunctions.provision import LOG_DELIVERY_ACTIONS, _definition, state_machine
from tests.localcloud.state_machines import states_role

pytestmark = pytest.mark.localcloud

STACK = "SfnProvision"
PASSES = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
TEMPLATE = {
    "Resources": {
        "Role": states_role(),
        "LoggingRole": states_role(
            "LogDelivery", {"Effect": "Allow", "Action": list(LOG_DELIVERY_ACTIONS), "Resource": "*"}
        ),
        "Executions": {"Type": "AWS::Logs::LogGroup"},
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(StackArtifact(STACK, TEMPLATE, Path(".")), start=FIXED_START) as running:
        yield running


def provision(cloud: LocalCloud, logical_id: str, **properties) -> tuple[dict, dict]:
    """Provision a machine that passes; its ``Fn::GetAtt`` attributes and DescribeStateMachine."""
    props = {"RoleArn": cloud.resources["Role"].attributes["Arn"], **properties}
    if "Definition" not in props:
        props.setdefault("DefinitionString", json.dumps(PASSES))
    made = state_machine(cloud.kernel, logical_id, props)
    described = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=made.physical_id)
    assert made.attributes["Arn"] == made.physical_id == described["stateMachineArn"]
    return made.attributes, described


def test_a_generated_name_is_the_stack_and_logical_id_cut_to_fill_80_characters(cloud):
    logical_id = "OrderFulfilmentOrchestration" * 3
    attributes, described = provision(cloud, logical_id)

    assert len(described["name"]) == 80
    assert described["name"] == attributes["Name"] == cloud.kernel.physical_name(logical_id, 80)
    assert described["name"].startswith(f"{STACK}-{logical_id}"[:67] + "-")


def test_a_short_generated_name_keeps_the_stack_and_logical_id_whole(cloud):
    attributes, described = provision(cloud, "Short")

    assert described["name"] == attributes["Name"]
    assert described["name"].startswith(f"{STACK}-Short-")
    assert len(described["name"]) == len(f"{STACK}-Short-") + 12


def test_a_given_name_of_80_characters_is_taken(cloud):
    name = "n" * 80
    attributes, described = provision(cloud, "Named80", StateMachineName=name)

    assert described["name"] == attributes["Name"] == name


def test_a_given_name_of_81_characters_is_refused_as_create_state_machine_refuses_it(cloud):
    name = "n" * 81
    with pytest.raises(ClientError) as refused:
        provision(cloud, "Named81", StateMachineName=name)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"
    )


def test_without_settings_a_machine_is_standard_untraced_and_logs_nothing(cloud):
    attributes, described = provision(cloud, "Plain")

    assert described["type"] == "STANDARD"
    assert described["tracingConfiguration"] == {"enabled": False}
    assert described["loggingConfiguration"] == {"level": "OFF"}
    assert json.loads(described["definition"]) == PASSES
    assert attributes["StateMachineRevisionId"]


@pytest.mark.parametrize(
    ("tracing", "enabled"), [({}, False), ({"Enabled": False}, False), ({"Enabled": True}, True)]
)
def test_tracing_is_on_only_when_the_template_enables_it(cloud, tracing, enabled):
    _, described = provision(cloud, f"Traced{enabled}{len(tracing)}", TracingConfiguration=tracing)

    assert described["tracingConfiguration"] == {"enabled": enabled}


def test_an_express_machine_is_created_express(cloud):
    _, described = provision(cloud, "Quick", StateMachineType="EXPRESS")

    assert described["type"] == "EXPRESS"


def test_logging_settings_left_out_default_to_level_off_without_execution_data(cloud):
    group_arn = cloud.resources["Executions"].attributes["Arn"]
    destination = {"CloudWatchLogsLogGroup": {"LogGroupArn": group_arn}}
    _, described = provision(cloud, "LogsDefaults", LoggingConfiguration={"Destinations": [destination]})

    assert described["loggingConfiguration"] == {
        "level": "OFF",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}],
    }


def test_logging_settings_given_are_passed_to_create_state_machine(cloud):
    group_arn = cloud.resources["Executions"].attributes["Arn"]
    destination = {"CloudWatchLogsLogGroup": {"LogGroupArn": group_arn}}
    _, described = provision(
        cloud,
        "LogsAll",
        RoleArn=cloud.resources["LoggingRole"].attributes["Arn"],
        LoggingConfiguration={"Level": "ERROR", "IncludeExecutionData": True, "Destinations": [destination]},
    )

    assert described["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}],
    }


@pytest.mark.parametrize("lacking", LOG_DELIVERY_ACTIONS)
def test_a_machine_that_logs_is_refused_while_its_role_may_not_set_up_the_log_delivery(cloud, lacking):
    granted = [action for action in LOG_DELIVERY_ACTIONS if action != lacking]
    role = f"arn:aws:iam::{cloud.kernel.account}:role/LogsWithout{lacking.split(':')[1]}"
    cloud.kernel.iam.add_identity_policy(
        role, {"Statement": [{"Effect": "Allow", "Action": granted, "Resource": "*"}]}, "test"
    )
    destination = {"CloudWatchLogsLogGroup": {"LogGroupArn": cloud.resources["Executions"].attributes["Arn"]}}
    logging = {"Level": "ALL", "Destinations": [destination]}

    with pytest.raises(InvalidRequest) as refused:
        provision(cloud, f"Refused{lacking.split(':')[1]}", RoleArn=role, LoggingConfiguration=logging)

    assert (
        "AccessDeniedException: The state machine IAM Role is not authorized to access the Log Destination"
        in str(refused.value)
    )
    assert f"not allowed {lacking} on *" in str(refused.value)
    names = [m["name"] for m in cloud.client("stepfunctions").list_state_machines()["stateMachines"]]
    assert not any(f"Refused{lacking.split(':')[1]}" in name for name in names)


def test_a_machine_whose_level_is_off_needs_no_log_delivery(cloud):
    destination = {"CloudWatchLogsLogGroup": {"LogGroupArn": cloud.resources["Executions"].attributes["Arn"]}}
    _, described = provision(
        cloud, "LogsOff", LoggingConfiguration={"Level": "OFF", "Destinations": [destination]}
    )

    assert described["loggingConfiguration"]["level"] == "OFF"


def test_a_definition_given_as_an_object_is_created_as_its_json_with_substitutions(cloud):
    definition = {
        "StartAt": "Greet",
        "States": {
            "Greet": {
                "Type": "Pass",
                "Result": {"greeting": "${Greeting}", "count": "n=${Count}", "unknown": "${Missing}"},
                "End": True,
            }
        },
    }
    _, described = provision(
        cloud,
        "Substituted",
        Definition=definition,
        DefinitionSubstitutions={"Greeting": "hello", "Count": 3},
    )

    assert json.loads(described["definition"])["States"]["Greet"]["Result"] == {
        "greeting": "hello",
        "count": "n=3",
        "unknown": "${Missing}",
    }


def test_a_substituted_value_that_is_not_a_string_is_written_as_json():
    text = '{"Items": ${Items}, "Limit": ${Limit}, "Name": "${Name}"}'
    substituted = _definition(
        "M",
        {"DefinitionString": text, "DefinitionSubstitutions": {"Items": ["a", 1], "Limit": 5, "Name": "x"}},
    )

    assert json.loads(substituted) == {"Items": ["a", 1], "Limit": 5, "Name": "x"}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}},
            "M: DefinitionS3Location is not supported offline",
        ),
        ({}, "M: a state machine needs Definition or DefinitionString"),
    ],
)
def test_a_definition_the_local_cloud_cannot_read_is_refused_naming_the_resource(props, message):
    with pytest.raises(TemplateError, match=message):
        _definition("M", props)


def test_a_definition_string_without_substitutions_is_taken_as_it_is():
    text = '{"StartAt": "${Kept}"}'
    assert _definition("M", {"DefinitionString": text}) == text
    assert _definition("M", {"DefinitionString": text, "DefinitionSubstitutions": {"Other": 1}}) == text
    assert (
        _definition("M", {"DefinitionString": text, "DefinitionSubstitutions": {"Kept": "S"}})
        == '{"StartAt": "S"}'
    )


def test_a_definition_the_cloud_cannot_run_is_refused_before_the_machine_is_created(cloud):
    activity = "arn:aws:states:us-east-1:123456789012:activity:approve"
    definition = {
        "StartAt": "Approve",
        "States": {"Approve": {"Type": "Task", "Resource": activity, "End": True}},
    }
    with pytest.raises(StateMachineDefinitionError, match="activities are not supported offline"):
        provision(cloud, "Unrunnable", StateMachineName="unrunnable", DefinitionString=json.dumps(definition))

    listed = cloud.client("stepfunctions").list_state_machines()["stateMachines"]
    assert "unrunnable" not in [m["name"] for m in listed]
