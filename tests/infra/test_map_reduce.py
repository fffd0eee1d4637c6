"""What makes the map reduce: a Distributed Map that lists the input prefix itself, batches it to
Express children with a retried mapper, tolerates a share of failures and writes its results to S3;
a reducer after it; and grants that allow exactly those calls."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack

from patterns.map_reduce import MapReduce
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "MapReduceStack"


def definition(raw) -> dict:
    """The workflow's ASL with each token (``Ref``, ``Fn::GetAtt``) written as its logical id."""
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    parts = machine["DefinitionString"]["Fn::Join"][1]
    text = "".join(
        part if isinstance(part, str) else str(part.get("Ref") or part.get("Fn::GetAtt", ["?"])[0])
        for part in parts
    )
    return json.loads(text)


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, logical_id: str) -> str:
    return raw["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]


def bucket(raw, output: str) -> str:
    return raw["Outputs"][output]["Value"]["Ref"]


def test_the_map_is_distributed_over_the_s3_listing_in_batches_of_express_children(templates):
    raw = templates[STACK]
    states = definition(raw)["States"]
    assert set(states) == {"Defaults", "PrefixAllowed?", "PrefixRefused", "CountWords", "Reduce"}
    count = states["CountWords"]
    assert count["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": bucket(raw, "InputBucketName"), "Prefix.$": "$.prefix"},
    }
    assert count["ItemBatcher"] == {
        "MaxItemsPerBatch": 10,
        "BatchInput": {"bucket": bucket(raw, "InputBucketName")},
    }
    assert count["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert (count["MaxConcurrency"], count["ToleratedFailurePercentage"]) == (100, 10)
    [call] = count["ItemProcessor"]["States"].values()
    assert call["Resource"] == function_id(raw, "mapper.handler")
    assert call["Retry"] == [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 2}
    ]
    assert count["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": bucket(raw, "OutputBucketName"), "Prefix": "map-runs"},
    }
    assert (count["ResultPath"], count["Next"]) == ("$.map", "Reduce")


def test_the_workflow_role_may_list_the_input_write_results_and_start_only_its_own_children(templates):
    raw = templates[STACK]
    [machine_id] = resources_of(raw, "AWS::StepFunctions::StateMachine")
    role = raw["Resources"][machine_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    data = sorted(
        (json.dumps(s["Action"]), json.dumps(s["Resource"]))
        for s in statements_of(raw, role)
        if any(a.startswith(("s3:", "states:", "lambda:")) for a in s["Action"])
    )
    inputs, outputs = bucket(raw, "InputBucketName"), bucket(raw, "OutputBucketName")
    mapper = function_id(raw, "mapper.handler")
    assert ('["s3:ListBucket"]', json.dumps({"Fn::GetAtt": [inputs, "Arn"]})) in data
    [invoke] = [r for a, r in data if a == '["lambda:InvokeFunction"]']
    assert json.dumps({"Fn::GetAtt": [mapper, "Arn"]}) in invoke
    assert f'"{mapper}", "Arn"]}}, ":*"' not in invoke, "the mapper is invoked unqualified only"
    assert ('["states:StartExecution"]', json.dumps({"Ref": machine_id})) in data
    [put] = [r for a, r in data if a == '["s3:PutObject"]']
    assert outputs in put and "/map-runs/*" in put
    [children] = [r for a, r in data if a == '["states:DescribeExecution"]']
    assert ":execution:" in children and children.endswith('"/*"]]}')
    actions = {a for s in statements_of(raw, role) for a in s["Action"]}
    assert not actions & {
        "s3:GetObject",
        "s3:*",
        "states:*",
        "states:StopExecution",
        "states:RedriveExecution",
    }


def test_the_mapper_reads_the_input_prefix_and_the_reducer_reads_results_and_writes_counts(templates):
    raw = templates[STACK]
    inputs, outputs = bucket(raw, "InputBucketName"), bucket(raw, "OutputBucketName")

    def s3_grants(handler: str) -> list[tuple[list[str], str]]:
        return sorted(
            (s["Action"], json.dumps(s["Resource"]))
            for s in statements_of(raw, role_of(raw, function_id(raw, handler)))
            if any(a.startswith("s3:") for a in s["Action"])
        )

    [(actions, resource)] = s3_grants("mapper.handler")
    assert actions == ["s3:GetObject"] and inputs in resource and "/input/*" in resource
    reducer = s3_grants("reducer.handler")
    assert [a for a, _ in reducer] == [["s3:GetObject"], ["s3:PutObject"]]
    assert "/map-runs/*" in reducer[0][1] and "/counts/*" in reducer[1][1]
    assert all(outputs in r for _, r in reducer)


def test_props_reach_the_definition_and_bad_ones_are_refused_before_synth():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    MapReduce(
        stack,
        "Count",
        input_prefix="books/",
        batch_size=50,
        max_concurrency=5,
        tolerated_failure_percentage=0,
        retry_attempts=0,
    )
    from aws_cdk.assertions import Template

    raw = Template.from_stack(stack).to_json()
    count = definition(raw)["States"]["CountWords"]
    assert count["ItemReader"]["Parameters"]["Prefix.$"] == "$.prefix"
    defaults = definition(raw)["States"]["Defaults"]["Parameters"]["args.$"]
    assert """'{"prefix": "books/"}'""" in defaults
    [allowed] = definition(raw)["States"]["PrefixAllowed?"]["Choices"]
    assert {"Variable": "$.prefix", "StringMatches": "books/*"} in allowed["And"]
    assert (count["ItemBatcher"]["MaxItemsPerBatch"], count["MaxConcurrency"]) == (50, 5)
    assert count["ToleratedFailurePercentage"] == 0
    [call] = count["ItemProcessor"]["States"].values()
    assert "Retry" not in call


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"batch_size": 0}, "batch_size must be from 1 to 1000"),
        ({"max_concurrency": 10001}, "max_concurrency must be from 1 to 10000"),
        ({"tolerated_failure_percentage": 101}, "tolerated_failure_percentage must be from 0 to 100"),
        ({"retry_attempts": 11}, "retry_attempts must be from 0 to 10"),
        ({"input_prefix": "input"}, "input_prefix must end with '/'"),
        ({"input_prefix": "in*put/"}, "input_prefix must end with '/'"),
    ],
)
def test_out_of_range_props_are_refused(props, message):
    with pytest.raises(ValueError, match=message):
        MapReduce(Stack(App(), "Refused"), "Count", **props)


def test_an_existing_bucket_with_props_for_a_new_one_is_refused():
    from aws_cdk import aws_s3 as s3

    stack = Stack(App(), "Both")
    given = s3.Bucket.from_bucket_name(stack, "Given", "books")
    with pytest.raises(ValueError, match="input_bucket"):
        MapReduce(stack, "Count", input_bucket=given, input_bucket_props={"versioned": False})
