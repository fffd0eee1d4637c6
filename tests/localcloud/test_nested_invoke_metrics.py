"""A function that invokes another synchronously keeps its own Powertools state: on AWS each runs in
its own sandbox, so the callee's flush never takes the caller's pending metrics, and each function
has its own cold start."""

from __future__ import annotations

import pytest
from aws_cdk import Stack

from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    callee = python_function(
        stack, "Callee", "metered_caller", environment={"POWERTOOLS_SERVICE_NAME": "callee"}
    )
    caller = python_function(
        stack,
        "Caller",
        "metered_caller",
        environment={"POWERTOOLS_SERVICE_NAME": "caller", "CALLEE": callee.function_arn},
    )
    callee.grant_invoke(caller)


@pytest.fixture
def cloud(synth, run):
    return run(synth("NestedInvokeMetrics", build))


def sums(cloud, name: str, service: str) -> float:
    return sum(point.sum for point in cloud.metrics("Shop", name, {"service": service}))


def test_the_callers_metrics_are_flushed_under_its_own_service_after_a_nested_call(cloud):
    assert cloud.invoke("Caller", {})["Payload"] == {"served": True}
    assert (sums(cloud, "CallStarted", "caller"), sums(cloud, "CallAnswered", "caller")) == (1, 1)
    assert sums(cloud, "CallStarted", "callee") == 0, "the callee's flush took the caller's pending metric"
    assert sums(cloud, "Served", "callee") == 1
    assert sums(cloud, "Served", "caller") == 0
    cold = {
        service: cloud.metrics(
            "Shop", "ColdStart", {"function_name": cloud.function(name).name, "service": service}
        )
        for name, service in (("Caller", "caller"), ("Callee", "callee"))
    }
    assert {service: len(points) for service, points in cold.items()} == {"caller": 1, "callee": 1}, (
        "each function has its own cold start"
    )
