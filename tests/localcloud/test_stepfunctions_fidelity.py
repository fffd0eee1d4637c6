"""Where moto's Step Functions interpreter is kinder than AWS, the local cloud is not: the context
object's times are written as AWS writes them (``2026-01-01T00:01:00.000Z``), on the virtual clock,
and a Choice rule comparing a path the input lacks fails the execution with ``States.Runtime``
instead of taking the ``Default``; ``IsPresent``, alone or guarding a comparison in an ``And``, still
decides."""

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
    done = {"Open": {"Type": "Pass", "End": True}, "Closed": {"Type": "Pass", "End": True}}
    machine(
        stack,
        "Bare",
        {
            "StartAt": "State",
            "States": {
                "State": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.circuit.state", "StringEquals": "OPEN", "Next": "Open"}],
                    "Default": "Closed",
                },
                **done,
            },
        },
    )
    machine(
        stack,
        "Guarded",
        {
            "StartAt": "State",
            "States": {
                "State": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "And": [
                                {"Variable": "$.circuit.state", "IsPresent": True},
                                {"Variable": "$.circuit.state", "StringEquals": "OPEN"},
                            ],
                            "Next": "Open",
                        }
                    ],
                    "Default": "Closed",
                },
                **done,
            },
        },
    )


@pytest.fixture(scope="module")
def cloud(synth, tmp_path_factory):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    with LocalCloud(synth("SfnFidelity", build), start=FIXED_START) as started:
        yield started


def test_entered_and_start_times_are_utc_with_milliseconds_and_z(cloud):
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


def test_a_comparison_on_a_missing_path_fails_the_execution_whatever_the_default(cloud):
    execution = cloud.start_execution("Bare", {"circuit": {}})
    cloud.drain()
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert execution.cause == (
        "An error occurred while executing the state 'State' (entered at the event id #2). Invalid path "
        "'$.circuit.state': The choice state's condition path references an invalid value."
    )
    present = cloud.start_execution("Bare", {"circuit": {"state": "CLOSED"}})
    cloud.drain()
    assert (present.status, present.states()) == ("SUCCEEDED", ["State", "Closed"])


@pytest.mark.parametrize(
    ("payload", "taken"),
    [
        ({"circuit": {}}, "Closed"),
        ({"circuit": {"state": "OPEN"}}, "Open"),
        ({"circuit": {"state": "X"}}, "Closed"),
    ],
)
def test_an_is_present_guard_before_the_comparison_decides(cloud, payload, taken):
    execution = cloud.start_execution("Guarded", payload)
    cloud.drain()
    assert (execution.status, execution.states()) == ("SUCCEEDED", ["State", taken])
