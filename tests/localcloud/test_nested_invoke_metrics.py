"""A function that invokes another synchronously keeps its own Powertools state: on AWS each runs in
its own sandbox, so the callee's flush never takes the caller's pending metrics, the callee's
logger never changes the caller's, even under one service name, and each has its own cold start."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack

from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

SHARED = {"POWERTOOLS_SERVICE_NAME": "shop"}


def build(stack: Stack) -> None:
    callee = python_function(
        stack, "Callee", "metered_caller", environment={**SHARED, "POWERTOOLS_METRICS_NAMESPACE": "Callee"}
    )
    caller = python_function(
        stack,
        "Caller",
        "metered_caller",
        environment={**SHARED, "POWERTOOLS_METRICS_NAMESPACE": "Caller", "CALLEE": callee.function_arn},
    )
    callee.grant_invoke(caller)


@pytest.fixture
def cloud(synth, run):
    return run(synth("NestedInvokeMetrics", build))


def sums(cloud, namespace: str, name: str) -> float:
    return sum(point.sum for point in cloud.metrics(namespace, name, {"service": "shop"}))


def logged(cloud, name: str) -> list[dict]:
    group = f"/aws/lambda/{cloud.function(name).name}"
    events = cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    return [json.loads(e["message"]) for e in events if e["message"].startswith('{"level"')]


def test_the_callers_metrics_and_logger_stay_its_own_across_a_nested_call(cloud):
    assert cloud.invoke("Caller", {})["Payload"] == {"served": True}
    assert (sums(cloud, "Caller", "CallStarted"), sums(cloud, "Caller", "CallAnswered")) == (1, 1)
    assert sums(cloud, "Callee", "CallStarted") == 0, "the callee's flush took the caller's pending metric"
    assert (sums(cloud, "Callee", "Served"), sums(cloud, "Caller", "Served")) == (1, 0)
    cold = {
        name: cloud.metrics(
            name, "ColdStart", {"function_name": cloud.function(name).name, "service": "shop"}
        )
        for name in ("Caller", "Callee")
    }
    assert {name: len(points) for name, points in cold.items()} == {"Caller": 1, "Callee": 1}, (
        "each function has its own cold start"
    )
    [answered] = [line for line in logged(cloud, "Caller") if line["message"] == "answered"]
    assert answered["function_name"] == cloud.function("Caller").name, "the callee's context leaked in"
    [served] = [line for line in logged(cloud, "Callee") if line["message"] == "served"]
    assert served["function_name"] == cloud.function("Callee").name
