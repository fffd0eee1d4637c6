"""A Retry's ``JitterStrategy`` on the virtual clock: with ``FULL`` each wait is drawn between 0
and the interval the retrier computes (IntervalSeconds times BackoffRate per attempt), with
``NONE`` it is that interval. One small cloud from a hand-written template (no synth)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from tests.localcloud.test_stepfunctions_semantics_states import spans

pytestmark = pytest.mark.localcloud

INTERVALS = [8, 16, 32]  # IntervalSeconds 8, BackoffRate 2, MaxAttempts 3


def retrying(jitter: str) -> dict:
    """A Parallel whose one branch always fails with ``Boom``: a retriable state needing no function."""
    branch = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}
    retry = {
        "ErrorEquals": ["Boom"],
        "IntervalSeconds": 8,
        "BackoffRate": 2,
        "MaxAttempts": 3,
        "JitterStrategy": jitter,
    }
    definition = {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Parallel", "Branches": [branch], "Retry": [retry], "End": True}},
    }
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps(definition),
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        },
    }


TEMPLATE = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Full": retrying("FULL"),
        "Steady": retrying("NONE"),
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
