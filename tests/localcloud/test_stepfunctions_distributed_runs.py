"""The Distributed Map as Step Functions runs it: items counted against the tolerated failure
thresholds (a failed batch fails all its items), MaxConcurrency on the virtual clock, every page
of an S3 listing, the child executions' records and the ResultWriter's files, as AWS words them.
One cloud from a hand-written template (no synth) runs every machine; the definition helpers are
unit-tested without one."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.services.stepfunctions import distributed_map
from localcloud.services.stepfunctions.distributed_map import _batches, _exceeded, _prepared, unsupported
from tests.localcloud.state_machines import states_role

pytestmark = pytest.mark.localcloud

WRITER = "arn:aws:states:::s3:putObject"
READER = "arn:aws:states:::s3:listObjectsV2"


def child(variable: str) -> dict:
    """A child workflow that fails (``Bad``) when ``variable`` is present, else waits 10 s."""
    return {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": variable, "IsPresent": True, "Next": "Bad"}],
                "Default": "Work",
            },
            "Bad": {"Type": "Fail", "Error": "Bad", "Cause": "a failing item"},
            "Work": {"Type": "Wait", "Seconds": 10, "End": True},
        },
    }


def dmap(processor: dict, execution_type: str = "STANDARD", **fields) -> dict:
    return {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            **processor,
        },
        **fields,
    }


def machine(state: dict) -> dict:
    definition = {"StartAt": "M", "States": {"M": {**state, "End": True}}}
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps(definition),
            "DefinitionSubstitutions": {"Bucket": {"Ref": "Data"}},
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        },
    }


def writer(**parameters) -> dict:
    return {"Resource": WRITER, "Parameters": {"Bucket": "${Bucket}", **parameters}}


ROLE = states_role(
    "MapRuns",
    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject"], "Resource": "*"},
    {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"},
)

TEMPLATE = {
    "Resources": {
        "Role": ROLE,
        "Data": {"Type": "AWS::S3::Bucket"},
        "Batches": machine(
            dmap(
                child("$.Items[0].fail"),
                ItemsPath="$.items",
                ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"run": "batches"}},
                ToleratedFailureCount=2,
                MaxConcurrency=1,
                ResultWriter=writer(Prefix="out"),
            )
        ),
        "Shares": machine(
            dmap(
                child("$.fail"),
                "EXPRESS",
                ItemsPath="$.items",
                ToleratedFailurePercentage=50,
                MaxConcurrency=2,
                ResultWriter=writer(Prefix="shares/"),
            )
        ),
        "Paths": machine(
            dmap(
                child("$.fail"),
                ItemsPath="$.items",
                ToleratedFailureCountPath="$.count",
                ToleratedFailurePercentagePath="$.share",
            )
        ),
        "Unbounded": machine(dmap(child("$.fail"), ItemsPath="$.items")),
        "Listing": machine(
            dmap(
                {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
                "EXPRESS",
                ItemReader={
                    "Resource": READER,
                    "Parameters": {"Bucket": "${Bucket}", "Prefix": "in/", "MaxKeys": 2},
                },
                ResultWriter=writer(),
            )
        ),
        "InBranch": machine(
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Inner",
                        "States": {
                            "Inner": dmap(
                                {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
                                ItemsPath="$.items",
                                ItemBatcher={"MaxItemsPerBatch": 3},
                                End=True,
                            )
                        },
                    }
                ],
            }
        ),
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(StackArtifact("SfnRuns", TEMPLATE, Path(".")), start=FIXED_START) as running:
        yield running


def run(cloud: LocalCloud, machine_id: str, payload: dict) -> tuple:
    """Run an execution to its end: it, and the seconds it took on the virtual clock."""
    started = cloud.clock.elapsed()
    execution = cloud.start_execution(machine_id, payload)
    cloud.drain()
    return execution, cloud.clock.elapsed() - started


def written(cloud: LocalCloud, key: str) -> tuple[bytes, object]:
    body = cloud.client("s3").get_object(Bucket=cloud.physical_id("Data"), Key=key)["Body"].read()
    return body, json.loads(body)


def map_run_failed(execution) -> dict:
    [event] = [e for e in execution.history() if e["type"] == "MapRunFailed"]
    return event["mapRunFailedEventDetails"]


# ---------------------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("items", "status", "seconds"),
    [
        # batches [fail, ok] [ok, ok] [ok]: one failed child of two items is within a count of 2
        ([{"fail": 1}, {}, {}, {}, {}], "SUCCEEDED", 20),
        # batches [fail, ok] [ok, ok] [fail]: three failed items exceed it
        ([{"fail": 1}, {}, {}, {}, {"fail": 1}], "FAILED", 10),
    ],
)
def test_a_failed_batch_counts_each_of_its_items_against_the_tolerated_count(cloud, items, status, seconds):
    execution, took = run(cloud, "Batches", {"items": items})

    assert execution.status == status
    assert took == seconds  # MaxConcurrency 1: the batches that wait, one after the other
    if status == "FAILED":
        assert (execution.error, execution.cause) == distributed_map.EXCEEDED
        assert map_run_failed(execution) == dict(
            zip(("error", "cause"), distributed_map.EXCEEDED, strict=True)
        )


@pytest.mark.parametrize(
    ("failing", "status"),
    [(2, "SUCCEEDED"), (3, "FAILED")],
)
def test_a_failure_share_at_the_tolerated_percentage_passes_and_one_above_fails(cloud, failing, status):
    items = [{"fail": 1}] * failing + [{}] * (4 - failing)

    execution, took = run(cloud, "Shares", {"items": items})

    assert execution.status == status
    waits = 4 - failing
    assert took == (10 if waits else 0) * ((waits + 1) // 2)  # two children at a time


@pytest.mark.parametrize(
    ("count", "share", "status"),
    [(1, 50, "SUCCEEDED"), (0, 100, "FAILED"), (5, 0, "FAILED")],
)
def test_thresholds_read_from_the_input_are_declared_thresholds(cloud, count, share, status):
    execution, _ = run(cloud, "Paths", {"items": [{"fail": 1}, {}], "count": count, "share": share})

    assert execution.status == status, execution.cause


def test_with_no_threshold_declared_one_failure_fails_the_map_run_and_none_succeeds(cloud):
    failed, _ = run(cloud, "Unbounded", {"items": [{}, {"fail": 1}]})
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")

    succeeded, took = run(cloud, "Unbounded", {"items": [{}, {}, {"n": 3}]})
    assert succeeded.status == "SUCCEEDED"
    assert succeeded.output == [{}, {}, {"n": 3}]
    assert took == 10  # no MaxConcurrency: every child at once


def test_a_map_run_over_no_items_succeeds_with_no_output(cloud):
    execution, took = run(cloud, "Unbounded", {"items": []})

    assert (execution.status, execution.output, took) == ("SUCCEEDED", [], 0)


# ---------------------------------------------------------------------------------------- results


def test_result_files_hold_each_child_as_describe_execution_words_it_under_the_map_runs_id(cloud):
    began = cloud.clock.now()
    execution, took = run(cloud, "Batches", {"items": [{"fail": 1}, {"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}]})

    assert (execution.status, took) == ("SUCCEEDED", 20)
    map_run = execution.output["MapRunArn"]
    folder = f"out/{map_run.rsplit(':', 1)[-1]}/"
    bucket = cloud.physical_id("Data")
    assert execution.output["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"{folder}manifest.json"}
    _, manifest = written(cloud, f"{folder}manifest.json")
    succeeded_body, succeeded = written(cloud, f"{folder}SUCCEEDED_0.json")
    failed_body, failed = written(cloud, f"{folder}FAILED_0.json")
    assert manifest == {
        "DestinationBucket": bucket,
        "MapRunArn": map_run,
        "ResultFiles": {
            "FAILED": [{"Key": f"{folder}FAILED_0.json", "Size": len(failed_body)}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": f"{folder}SUCCEEDED_0.json", "Size": len(succeeded_body)}],
        },
    }
    # The children are executions of "<machine>/<map run label>", named as the Map Run numbers them.
    children_of = map_run.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0]

    def record(index: int, items: list, start: int, stop: int) -> dict:
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{map_run}/{index}"))
        batch = json.dumps({"Items": items, "BatchInput": {"run": "batches"}})
        return {
            "ExecutionArn": f"{children_of.replace(':stateMachine:', ':execution:')}:{name}",
            "Input": batch,
            "InputDetails": {"Included": True},
            "Name": name,
            "RedriveCount": 0,
            "StartDate": (began + timedelta(seconds=start)).isoformat(),
            "StateMachineArn": children_of,
            "StopDate": (began + timedelta(seconds=stop)).isoformat(),
        }

    assert succeeded == [
        {
            **record(index, items, start, start + 10),
            "Status": "SUCCEEDED",
            "Output": json.dumps({"Items": items, "BatchInput": {"run": "batches"}}),
            "OutputDetails": {"Included": True},
            "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        }
        for index, items, start in ((1, [{"k": 2}, {"k": 3}], 0), (2, [{"k": 4}], 10))
    ]
    assert failed == [
        {
            **record(0, [{"fail": 1}, {"k": 1}], 0, 0),
            "Status": "FAILED",
            "Error": "Bad",
            "Cause": "a failing item",
            "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": "Execution's parent is not redrivable",
        }
    ]


def test_result_files_go_under_the_prefix_once_and_only_the_statuses_that_occurred_are_written(cloud):
    execution, _ = run(cloud, "Shares", {"items": [{}, {"n": 2}]})

    assert execution.status == "SUCCEEDED", execution.cause
    folder = f"shares/{execution.output['MapRunArn'].rsplit(':', 1)[-1]}/"
    assert execution.output["ResultWriterDetails"]["Key"] == f"{folder}manifest.json"
    _, manifest = written(cloud, f"{folder}manifest.json")
    assert manifest["ResultFiles"] == {
        "FAILED": [],
        "PENDING": [],
        "SUCCEEDED": [
            {"Key": f"{folder}SUCCEEDED_0.json", "Size": manifest["ResultFiles"]["SUCCEEDED"][0]["Size"]}
        ],
    }
    _, children = written(cloud, f"{folder}SUCCEEDED_0.json")
    assert [json.loads(c["Input"]) for c in children] == [{}, {"n": 2}]  # unbatched: the item itself
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.physical_id("Data"), Prefix=folder)
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"{folder}SUCCEEDED_0.json",
        f"{folder}manifest.json",
    ]


def test_an_s3_listing_is_read_page_by_page_each_object_an_item_and_results_go_to_the_bucket_root(cloud):
    s3, bucket = cloud.client("s3"), cloud.physical_id("Data")
    put_at = cloud.clock.now()
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"in/{i}.txt", Body=b"x" * i)
    s3.put_object(Bucket=bucket, Key="elsewhere.txt", Body=b"not listed")

    execution, _ = run(cloud, "Listing", {})

    assert execution.status == "SUCCEEDED", execution.cause
    key = execution.output["ResultWriterDetails"]["Key"]
    assert key == f"{execution.output['MapRunArn'].rsplit(':', 1)[-1]}/manifest.json"
    [entry] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["ResultFiles"]["SUCCEEDED"]
    items = [
        json.loads(c["Input"])
        for c in json.loads(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
    ]
    etags = [s3.head_object(Bucket=bucket, Key=f"in/{i}.txt")["ETag"] for i in range(5)]
    assert items == [
        {
            "Etag": etags[i],
            "Key": f"in/{i}.txt",
            "LastModified": int(put_at.timestamp()),
            "Size": i,
            "StorageClass": "STANDARD",
        }
        for i in range(5)
    ]


def test_a_distributed_map_inside_a_parallel_branch_batches_its_items_too(cloud):
    execution, _ = run(cloud, "InBranch", {"items": list(range(7))})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == [[{"Items": [0, 1, 2]}, {"Items": [3, 4, 5]}, {"Items": [6]}]]


# ---------------------------------------------------------------------------------------- definitions


def test_distributed_fields_the_local_cloud_models_are_accepted():
    assert unsupported({"Type": "Map"}) is None
    assert (
        unsupported({"ItemBatcher": {"MaxItemsPerBatch": 2, "MaxInputBytesPerBatch": 9, "BatchInput": {}}})
        is None
    )
    assert (
        unsupported({"ItemSelector": {"v.$": "$$.Map.Item.Value"}, "ResultWriter": {"Resource": WRITER}})
        is None
    )
    assert (
        unsupported({"ItemBatcher": {"MaxItemsPerBatchPath": "$.n", "BatchInputPath": "$.b"}})
        == "ItemBatcher BatchInputPath, MaxItemsPerBatchPath is not supported offline"
    )


def test_what_moto_cannot_parse_is_taken_out_of_every_map_state_and_kept_by_name():
    inner = {
        "Type": "Map",
        "ItemBatcher": {"MaxItemsPerBatch": 4},
        "ToleratedFailureCountPath": "$.n",
        "End": True,
    }
    legacy = {"Type": "Map", "ToleratedFailurePercentagePath": "$.p", "End": True}
    document = {
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Map",
                "ToleratedFailurePercentage": 10,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Inner",
                    "States": {"Inner": inner},
                },
                "Next": "Fork",
            },
            "Fork": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Old",
                        "States": {
                            "Old": {
                                "Type": "Map",
                                "Iterator": {"StartAt": "Legacy", "States": {"Legacy": legacy}},
                                "End": True,
                            }
                        },
                    }
                ],
                "End": True,
            },
            "Odd": "not a state",
            "Plain": {"Type": "Pass", "ToleratedFailureCount": 1, "End": True},
        },
    }

    prepared, kept = _prepared(document)

    assert kept == {
        "Outer": {"batcher": None, "count": False, "percentage": True},
        "Inner": {"batcher": {"MaxItemsPerBatch": 4}, "count": True, "percentage": False},
        "Old": {"batcher": None, "count": False, "percentage": False},
        "Legacy": {"batcher": None, "count": False, "percentage": True},
    }
    outer = prepared["States"]["Outer"]
    assert outer["ToleratedFailurePercentage"] == 10.0 and isinstance(
        outer["ToleratedFailurePercentage"], float
    )
    assert outer["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "STANDARD"
    assert "ItemBatcher" not in outer["ItemProcessor"]["States"]["Inner"]


def test_a_definition_that_is_not_json_or_has_no_map_is_parsed_as_moto_parses_it():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    distributed_map.install_parser()
    installed = AmazonStateLanguageParser.__dict__["parse"].__func__
    distributed_map.install_parser()
    assert AmazonStateLanguageParser.__dict__["parse"].__func__ is installed  # not wrapped twice
    plain = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    program, _ = AmazonStateLanguageParser.parse(plain)
    assert list(program.states.states) == ["P"]
    with pytest.raises(ASLParserException, match="mismatched input"):
        AmazonStateLanguageParser.parse("{not json")


def test_only_motos_warning_that_thresholds_have_no_effect_is_dropped():
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("moto", logging.WARNING, __file__, 1, message, None, None)

    assert (
        distributed_map._modelled_here(record("ToleratedFailureCount declarations currently have no effect"))
        is False
    )
    assert distributed_map._modelled_here(record("something else")) is True


@pytest.mark.parametrize(
    ("batcher", "batches"),
    [
        (None, ["a", "bb", "ccc"]),
        ({"MaxItemsPerBatch": 2}, [{"Items": ["a", "bb"]}, {"Items": ["ccc"]}]),
        (
            {"MaxItemsPerBatch": 1, "BatchInput": {"b": 1}},
            [{"Items": [x], "BatchInput": {"b": 1}} for x in ("a", "bb", "ccc")],
        ),
        # '["a", "bb"]' is 11 bytes: at the limit it still fits, one byte under it does not
        ({"MaxInputBytesPerBatch": 11}, [{"Items": ["a", "bb"]}, {"Items": ["ccc"]}]),
        ({"MaxInputBytesPerBatch": 10}, [{"Items": ["a"]}, {"Items": ["bb"]}, {"Items": ["ccc"]}]),
        ({"MaxItemsPerBatch": 9, "MaxInputBytesPerBatch": 100}, [{"Items": ["a", "bb", "ccc"]}]),
    ],
)
def test_items_are_batched_by_count_and_by_bytes_whichever_comes_first(batcher, batches):
    assert _batches(["a", "bb", "ccc"], batcher) == batches


@pytest.mark.parametrize(
    ("declared", "failed", "total", "exceeded"),
    [
        ({}, 0, 4, False),
        ({}, 1, 4, True),
        ({"count": True}, 2, 4, False),
        ({"count": True}, 3, 4, True),
        ({"percentage": True}, 1, 4, False),  # 25% at a tolerated 25%
        ({"percentage": True}, 2, 4, True),
        ({"count": True, "percentage": True}, 3, 4, True),
        ({"count": False, "percentage": False}, 1, 4, True),
    ],
)
def test_a_map_run_fails_only_when_its_failures_exceed_a_declared_threshold(
    declared, failed, total, exceeded
):
    thresholds = SimpleNamespace(tolerated_failure_count=2, tolerated_failure_percentage=25.0)
    assert _exceeded(declared, thresholds, failed, total) is exceeded
