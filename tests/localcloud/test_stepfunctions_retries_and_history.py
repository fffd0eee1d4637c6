"""Retries on the virtual clock and an execution's history. With ``JitterStrategy: FULL`` each wait
is drawn between 0 and the interval the retrier computes (IntervalSeconds times BackoffRate per
attempt), with ``NONE`` it is that interval; once the first retrier that matches the error has
used its attempts, the state fails without trying the retriers after it. In the history of an
execution that runs one task after another, each event after the first state's entry follows the
one before it (``previousEventId``), a state's exit included. One small cloud from a hand-written template (no synth)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from tests.localcloud.state_machines import states_role
from tests.localcloud.test_stepfunctions_semantics_states import spans

pytestmark = pytest.mark.localcloud

INTERVALS = [8, 16, 32]
LIST_QUEUES = "arn:aws:states:::aws-sdk:sqs:listQueues"  # IntervalSeconds 8, BackoffRate 2, MaxAttempts 3


def retrying(*retriers: dict) -> dict:
    """A Parallel whose one branch always fails with ``Boom``: a retriable state needing no function."""
    branch = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}
    definition = {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Parallel", "Branches": [branch], "Retry": list(retriers), "End": True}},
    }
    return machine(definition)


def backing_off(jitter: str) -> dict:
    return retrying(
        {
            "ErrorEquals": ["Boom"],
            "IntervalSeconds": 8,
            "BackoffRate": 2,
            "MaxAttempts": 3,
            "JitterStrategy": jitter,
        }
    )


def machine(definition: dict) -> dict:
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps(definition),
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        },
    }


TEMPLATE = {
    "Resources": {
        "Role": states_role("Listing", {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}),
        "Full": backing_off("FULL"),
        "Steady": backing_off("NONE"),
        "FirstMatch": retrying(
            {"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3},
        ),
        "Listing": machine(
            {
                "StartAt": "First",
                "States": {
                    "First": {"Type": "Task", "Resource": LIST_QUEUES, "Parameters": {}, "Next": "Second"},
                    "Second": {"Type": "Task", "Resource": LIST_QUEUES, "Parameters": {}, "End": True},
                },
            }
        ),
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(StackArtifact("SfnJitter", TEMPLATE, Path(".")), start=FIXED_START) as running:
        yield running


def waits(cloud: LocalCloud, machine: str) -> list[float]:
    """The virtual seconds each retry of one execution of ``machine`` waited, once it has failed."""
    start = cloud.clock.elapsed()
    execution = cloud.start_execution(machine, {})
    cloud.drain()
    assert (execution.status, execution.error) == ("FAILED", "Boom")
    retries = spans(cloud, execution, "retry")
    waited = [float(r.detail.removeprefix("in ").removesuffix("s")) for r in retries]
    assert [r.ended - r.at for r in retries] == pytest.approx(waited, rel=1e-5)
    assert cloud.clock.elapsed() - start == pytest.approx(sum(waited), rel=1e-5)
    return waited


def test_full_jitter_waits_less_than_each_interval(cloud, monkeypatch):
    from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl

    monkeypatch.setattr(jitter_strategy_decl, "random", random.Random(17))  # noqa: S311 (the same draws each run)
    waited = waits(cloud, "Full")

    assert len(waited) == len(INTERVALS)
    assert all(0 <= w < interval for w, interval in zip(waited, INTERVALS, strict=True)), waited


def test_no_jitter_waits_each_interval(cloud):
    assert waits(cloud, "Steady") == INTERVALS


def test_once_the_first_matching_retrier_is_exhausted_the_state_fails_without_the_later_ones(cloud):
    assert waits(cloud, "FirstMatch") == [1]


def test_each_history_event_follows_the_one_before_it_across_task_states(cloud):
    execution = cloud.start_execution("Listing", {})
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    events = cloud.client("stepfunctions").get_execution_history(executionArn=execution.arn)["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        *["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited"] * 2,
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    # AWS records the first state's entry as following event 0, as ExecutionStarted does.
    assert [e["previousEventId"] for e in events] == [0, 0, *range(2, len(events))]
