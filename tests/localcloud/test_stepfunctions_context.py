"""The context object's times are written as Step Functions writes them (``2026-01-01T00:01:00.000Z``),
on the virtual clock: a workflow that stores ``$$.State.EnteredTime`` stores what it would on AWS."""

from __future__ import annotations

import pytest
from aws_cdk import Stack

from localcloud.services.stepfunctions.context_times import aws_time
from tests.localcloud.test_stepfunctions import machine

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    times = {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"}
    machine(
        stack,
        "Times",
        {
            "StartAt": "First",
            "States": {
                "First": {"Type": "Pass", "Parameters": times, "ResultPath": "$.first", "Next": "Later"},
                "Later": {"Type": "Wait", "Seconds": 61, "Next": "Second"},
                "Second": {"Type": "Pass", "Parameters": times, "ResultPath": "$.second", "End": True},
            },
        },
    )


def test_entered_and_start_times_are_utc_with_milliseconds_and_z(synth, run):
    cloud = run(synth("SfnContextTimes", build))
    cloud.advance(1.25)
    execution = cloud.start_execution("Times", {})
    cloud.drain()
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["first"] == {
        "entered": "2026-01-01T00:00:01.250Z",
        "started": "2026-01-01T00:00:01.250Z",
    }
    assert execution.output["second"] == {
        "entered": "2026-01-01T00:01:02.250Z",
        "started": "2026-01-01T00:00:01.250Z",
    }


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-01-01T00:01:00+00:00", "2026-01-01T00:01:00.000Z"),
        ("2026-01-01T00:01:00.123456+00:00", "2026-01-01T00:01:00.123Z"),
        ("2026-01-01T02:01:00.5+02:00", "2026-01-01T00:01:00.500Z"),
        ("2026-01-01T00:01:00.999Z", "2026-01-01T00:01:00.999Z"),
    ],
)
def test_any_iso_time_becomes_the_aws_form(moment, expected):
    assert aws_time(moment) == expected
