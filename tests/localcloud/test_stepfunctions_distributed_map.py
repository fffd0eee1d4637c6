"""The Distributed Map offline: an S3 listing read in full, batched into child executions started as
the role, failures counted against the tolerated thresholds, and results written as AWS writes them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import StateMachineDefinitionError
from localcloud.services.stepfunctions.definition import check
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

KEYS = [f"in/{i:02}.txt" for i in range(7)] + ["in/poison.txt"]


def distributed(stack: Stack, name: str, data: s3.Bucket, fn, **kwargs) -> sfn.DistributedMap:
    dmap = sfn.DistributedMap(
        stack,
        name,
        item_reader=sfn.S3ObjectsItemReader(bucket=data, prefix="in/"),
        item_batcher=sfn.ItemBatcher(max_items_per_batch=3, batch_input={"run": name}),
        result_writer=sfn.ResultWriter(bucket=data, prefix=f"out/{name}"),
        map_execution_type=sfn.StateMachineType.STANDARD,
        **kwargs,
    )
    return dmap.item_processor(
        tasks.LambdaInvoke(stack, f"{name}Batch", lambda_function=fn, payload_response_only=True)
    )


def build(stack: Stack) -> None:
    data = s3.Bucket(stack, "Data")
    fn = python_function(stack, "Batch", "dmap_batch")
    for name, kwargs in (("Tolerant", {"tolerated_failure_percentage": 50}), ("Strict", {})):
        sfn.StateMachine(
            stack,
            f"{name}Machine",
            definition_body=sfn.DefinitionBody.from_chainable(distributed(stack, name, data, fn, **kwargs)),
        )


@pytest.fixture(scope="module")
def cloud(synth) -> Iterator[LocalCloud]:
    with LocalCloud(synth("SfnDistributedMap", build), start=FIXED_START) as running:
        client, bucket = running.client("s3"), running.physical_id("Data")
        for key in KEYS:
            client.put_object(Bucket=bucket, Key=key, Body=b"words")
        yield running


def results(cloud, output) -> tuple[dict, dict[str, list]]:
    client = cloud.client("s3")
    details = output["ResultWriterDetails"]
    manifest = json.loads(client.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    files = {
        status: [
            child
            for entry in entries
            for child in json.loads(
                client.get_object(Bucket=details["Bucket"], Key=entry["Key"])["Body"].read()
            )
        ]
        for status, entries in manifest["ResultFiles"].items()
    }
    return manifest, files


def test_batches_of_the_listing_run_as_children_and_a_tolerated_failure_is_written_not_lost(cloud):
    execution = cloud.start_execution("TolerantMachine")
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    manifest, files = results(cloud, execution.output)
    assert manifest["MapRunArn"] == execution.output["MapRunArn"]
    assert execution.output["ResultWriterDetails"]["Key"].startswith("out/Tolerant/")
    batches = [json.loads(child["Input"]) for child in files["SUCCEEDED"]]
    assert [[item["Key"] for item in batch["Items"]] for batch in batches] == [KEYS[0:3], KEYS[3:6]]
    assert {json.dumps(batch["BatchInput"]) for batch in batches} == {'{"run": "Tolerant"}'}
    assert set(batches[0]["Items"][0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert [json.loads(child["Output"])["keys"] for child in files["SUCCEEDED"]] == [KEYS[0:3], KEYS[3:6]]
    [failed] = files["FAILED"]
    assert (failed["Status"], failed["Error"]) == ("FAILED", "ValueError")
    assert "in/poison.txt" in failed["Cause"]
    assert [item["Key"] for item in json.loads(failed["Input"])["Items"]] == KEYS[6:]


def test_a_failure_beyond_the_threshold_fails_the_map_run_after_writing_its_results(cloud):
    execution = cloud.start_execution("StrictMachine")
    cloud.drain()

    assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.physical_id("Data"), Prefix="out/Strict/")
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in listed["Contents"]) == [
        "FAILED_0.json",
        "SUCCEEDED_0.json",
        "manifest.json",
    ]


def test_a_role_without_start_execution_on_itself_cannot_start_the_children(cloud):
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": cloud.physical_id("Data"), "Prefix": "in/"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    sfn_client = cloud.admin_client("stepfunctions")
    machine_role = sfn_client.describe_state_machine(stateMachineArn=cloud.physical_id("StrictMachine"))[
        "roleArn"
    ]
    arn = sfn_client.create_state_machine(
        name="NoChildren", definition=json.dumps(definition), roleArn=machine_role
    )["stateMachineArn"]
    execution = cloud.start_execution(arn)
    cloud.drain()

    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "states:StartExecution" in execution.cause and "NoChildren" in execution.cause
    session = f"assumed-role/{machine_role.rsplit('/', 1)[1]}/NoChildren"
    assert f"User: arn:aws:sts::{cloud.account}:{session} is not authorized" in execution.cause


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ({"ItemBatcher": {"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}}, "MaxItemsPerBatchPath"),
        (
            {"ItemBatcher": {"MaxItemsPerBatch": 2}, "ItemSelector": {"k.$": "$$.Map.Item.Value"}},
            "ItemSelector",
        ),
        ({"ResultWriter": {"WriterConfig": {"OutputType": "JSONL"}}}, "WriterConfig"),
    ],
)
def test_distributed_fields_the_local_cloud_does_not_model_are_refused_at_creation(field, reason):
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}},
        },
        "End": True,
        **field,
    }
    with pytest.raises(StateMachineDefinitionError, match=reason):
        check("Machine", json.dumps({"StartAt": "M", "States": {"M": state}}))
