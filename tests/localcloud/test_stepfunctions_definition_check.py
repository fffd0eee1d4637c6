"""What the local cloud refuses of a state machine definition, checked on the document alone: each
refusal names the machine and the state (nested ones included) and says why, every resource the
cloud runs is taken, and moto's parser is asked once per distinct definition."""

from __future__ import annotations

import json

import pytest

from localcloud.errors import StateMachineDefinitionError
from localcloud.services.stepfunctions import definition

pytestmark = pytest.mark.localcloud

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:add"


def task(resource: str, **extra) -> dict:
    return {"Type": "Task", "Resource": resource, **extra, "End": True}


def check(states: dict, **document) -> None:
    definition.check("M", json.dumps({"StartAt": next(iter(states)), "States": states, **document}))


def refusal(states: dict, **document) -> StateMachineDefinitionError:
    with pytest.raises(StateMachineDefinitionError) as refused:
        check(states, **document)
    return refused.value


@pytest.mark.parametrize(
    "resource",
    [
        LAMBDA,
        f"{LAMBDA}:live",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:add",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::states:startExecution.sync",
        "arn:aws:states:::aws-sdk:dynamodb:getItem",
        "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken",
    ],
)
def test_every_resource_the_cloud_runs_is_taken(resource):
    check({"First": {"Type": "Pass", "Next": "Work"}, "Work": task(resource)})


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (
            "arn:aws:states:us-east-1:123456789012:activity:approve",
            "activity task arn:aws:states:us-east-1:123456789012:activity:approve: "
            "activities are not supported offline",
        ),
        (
            "arn:aws:sqs:us-east-1:123456789012:orders",
            "Task resource 'arn:aws:sqs:us-east-1:123456789012:orders' is not a Lambda function or a "
            "service integration",
        ),
        (
            "arn:aws:lambda:us-east-1:12345:function:add",
            "Task resource 'arn:aws:lambda:us-east-1:12345:function:add' is not a Lambda function or a "
            "service integration",
        ),
        (
            "arn:aws:states:::aws-sdk:dynamodb:getItem.sync",
            "arn:aws:states:::aws-sdk:dynamodb:getItem.sync: aws-sdk supports .waitForTaskToken only",
        ),
        (
            "arn:aws:states:::ecs:runTask.sync",
            "arn:aws:states:::ecs:runTask.sync: the ecs integration is not supported offline "
            "(supported: dynamodb, events, lambda, sns, sqs, states, aws-sdk)",
        ),
        (
            "arn:aws:states:::dynamodb:query",
            "arn:aws:states:::dynamodb:query: dynamodb:query is not supported offline "
            "(supported: deleteItem, getItem, putItem, updateItem)",
        ),
        (
            "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
            "arn:aws:states:::dynamodb:putItem.waitForTaskToken: .waitForTaskToken is not supported for "
            "dynamodb:putItem",
        ),
        (
            "arn:aws:states:::lambda:invoke.sync",
            "arn:aws:states:::lambda:invoke.sync: .sync is not supported for lambda:invoke",
        ),
    ],
)
def test_a_task_the_cloud_cannot_run_is_refused_naming_the_state_and_why(resource, reason):
    refused = refusal({"First": {"Type": "Pass", "Next": "Work"}, "Work": task(resource)})
    assert (refused.machine, refused.state) == ("M", "Work")
    assert str(refused) == f"state machine M, state 'Work': {reason}"


def test_task_credentials_are_refused_whatever_the_resource():
    refused = refusal({"Work": task(LAMBDA, Credentials={"RoleArn": "arn:aws:iam::123456789012:role/r"})})
    assert (
        str(refused)
        == "state machine M, state 'Work': Task Credentials (a role per task) are not supported offline"
    )


def map_state(**fields) -> dict:
    processor = {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}
    return {"Type": "Map", "ItemProcessor": processor, **fields, "End": True}


def test_a_map_reads_items_from_s3_only():
    check({"Items": map_state(ItemReader={"Resource": "arn:aws:states:::s3:getObject"})})
    check({"Items": map_state()})
    refused = refusal({"Items": map_state(ItemReader={"Resource": "arn:aws:states:::dynamodb:getItem"})})
    assert str(refused) == (
        "state machine M, state 'Items': Map ItemReader resource arn:aws:states:::dynamodb:getItem is not "
        "supported offline"
    )


def test_a_distributed_map_field_the_cloud_lacks_is_refused_naming_the_map():
    refused = refusal({"Items": map_state(ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {}, "Odd": 1})})
    assert str(refused) == "state machine M, state 'Items': ItemBatcher Odd is not supported offline"


@pytest.mark.parametrize("where", ["Branches", "ItemProcessor", "Iterator"])
def test_a_state_nested_in_a_parallel_branch_or_a_map_is_checked_too(where):
    inner = {"StartAt": "Deep", "States": {"Deep": task("arn:aws:states:::ecs:runTask")}}
    outer = (
        {"Type": "Parallel", "Branches": [inner]} if where == "Branches" else {"Type": "Map", where: inner}
    )
    refused = refusal({"Outer": {**outer, "End": True}})
    assert refused.state == "Deep"
    assert "the ecs integration is not supported offline" in str(refused)


def test_a_definition_that_is_not_json_is_refused_naming_the_machine_only():
    with pytest.raises(StateMachineDefinitionError) as refused:
        definition.check("M", "{")
    assert refused.value.state is None
    assert str(refused.value).startswith(
        "state machine M: the definition is not JSON: Expecting property name"
    )


def test_what_moto_cannot_parse_names_the_state_after_good_terminal_and_choice_states():
    choice = {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "a", "Next": "Done"}]}
    states = {
        "Route": {**choice, "Default": "Fail"},
        "Done": {"Type": "Succeed"},
        "Fail": {"Type": "Fail", "Error": "E"},
        "Step": {"Type": "Pass", "Next": "Route"},
        "Work": {"Type": "Wait", "Next": "Done"},
    }
    refused = refusal(states)
    assert refused.state == "Work"
    assert str(refused).startswith("state machine M, state 'Work': moto's interpreter cannot parse it: ")


def test_a_choice_whose_rules_are_not_objects_is_refused_naming_it():
    refused = refusal({"Route": {"Type": "Choice", "Choices": ["x"], "Default": "Route"}})
    assert refused.state == "Route"
    assert str(refused).startswith("state machine M, state 'Route': moto's interpreter cannot parse it: ")


def test_a_state_alone_is_parsed_with_the_definitions_query_language():
    states = {
        "Shape": {"Type": "Pass", "Output": {"n": "{% $states.input.n %}"}, "Next": "Work"},
        "Work": {"Type": "Wait", "Next": "Shape"},
    }
    refused = refusal(states, QueryLanguage="JSONata", Comment="shaped")
    assert refused.state == "Work"


def test_a_refused_jsonata_definition_leaves_the_next_jsonpath_one_parseable():
    """moto's parser keeps its query-language scopes on the class: a parse that fails inside a
    JSONata scope would leave it open, and refuse every JSONPath definition after it."""
    jsonata = {
        "Shape": {"Type": "Pass", "Output": "{% $states.input %}", "Next": "Bad"},
        "Bad": {"Type": "Wait"},
    }
    assert refusal(jsonata, QueryLanguage="JSONata").state == "Bad"
    check({"After": {"Type": "Pass", "Parameters": {"after.$": "$.x"}, "End": True}})


def test_what_no_single_state_explains_is_refused_for_the_whole_definition():
    with pytest.raises(StateMachineDefinitionError) as refused:
        definition.check("M", json.dumps({"States": {"Done": {"Type": "Succeed"}}}))
    assert refused.value.state is None
    assert str(refused.value).startswith("state machine M: moto's interpreter cannot parse it: ")


def test_each_distinct_definition_is_parsed_once_by_the_check_and_once_by_moto(monkeypatch):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    parse = AmazonStateLanguageParser.parse
    parsed: list[str] = []

    def counting(text: str):
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting))
    text = json.dumps(
        {"StartAt": "Once", "States": {"Once": {"Type": "Pass", "Result": "parse-count", "End": True}}}
    )
    definition.check("M", text)
    definition.check("N", text)
    StepFunctionsParserBackend._validate_definition(definition=text)
    StepFunctionsParserBackend._validate_definition(definition=text)
    assert parsed == [text, text]

    wrong = json.dumps({"StartAt": "Once", "States": {"Once": {"Type": "Wait", "End": True}}})
    for _ in range(2):
        with pytest.raises(Exception, match="Undefined WaitFunction"):
            StepFunctionsParserBackend._validate_definition(definition=wrong)
    assert parsed.count(wrong) == 2


def test_the_parse_memo_and_the_own_scopes_are_fitted_once(monkeypatch):
    """moto's own versions are put back first, so the fitting runs here whichever test ran first."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    parsed: list[str] = []

    def motos_validate(definition: str) -> None:
        """moto 5.2's: parse the definition, refusing what does not parse."""
        parsed.append(definition)
        AmazonStateLanguageParser.parse(definition)

    monkeypatch.setattr(StepFunctionsParserBackend, "_validate_definition", staticmethod(motos_validate))
    monkeypatch.delattr(Preprocessor, "__init__")
    definition._remember_motos_parses()
    definition._own_query_language_scopes()
    fitted = StepFunctionsParserBackend.__dict__["_validate_definition"], Preprocessor.__init__
    definition._remember_motos_parses()
    definition._own_query_language_scopes()
    assert (StepFunctionsParserBackend.__dict__["_validate_definition"], Preprocessor.__init__) == fitted

    text = json.dumps(
        {"StartAt": "Once", "States": {"Once": {"Type": "Pass", "Result": "fitted", "End": True}}}
    )
    StepFunctionsParserBackend._validate_definition(definition=text)
    StepFunctionsParserBackend._validate_definition(definition=text)
    assert parsed == [text]
    refused = {
        "Shape": {"Type": "Pass", "Output": "{% $states.input %}", "Next": "Bad"},
        "Bad": {"Type": "Wait"},
    }
    with pytest.raises(Exception, match="Undefined WaitFunction"):
        AmazonStateLanguageParser.parse(
            json.dumps({"QueryLanguage": "JSONata", "StartAt": "Shape", "States": refused})
        )
    after = {"After": {"Type": "Pass", "Parameters": {"fitted.$": "$.x"}, "End": True}}
    AmazonStateLanguageParser.parse(json.dumps({"StartAt": "After", "States": after}))


def test_a_distributed_map_that_batches_items_read_from_s3_is_taken():
    reader = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k.json"}}
    check({"Items": map_state(ItemReader=reader, ItemBatcher={"MaxItemsPerBatch": 2})})
