"""A function in an isolated VPC writes to DynamoDB through a gateway endpoint; without the endpoint
the same function's connection times out and the trace names the missing route."""

from __future__ import annotations

import pytest

from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="class")
def with_endpoint(other_apps):
    """One cloud runs at a time: each class has its stack's cloud to itself."""
    with cloud_for(other_apps, "VpcEndpointWriter") as running:
        yield running


@pytest.fixture(scope="class")
def without_endpoint(other_apps):
    with cloud_for(other_apps, "VpcEndpointWriterNoEndpoint") as running:
        yield running


class TestWithTheEndpoint:
    def test_the_function_writes_through_the_gateway_endpoint(self, with_endpoint):
        cloud = with_endpoint
        answer = cloud.invoke(cloud.outputs["FunctionName"], {"id": "n-1", "note": "hello"})
        assert "FunctionError" not in answer, answer["Payload"]
        item = cloud.client("dynamodb").get_item(
            TableName=cloud.outputs["TableName"], Key={"id": {"S": "n-1"}}
        )
        assert item["Item"]["note"] == {"S": "hello"}
        assert cloud.trace.find("timeout") == []


class TestWithoutTheEndpoint:
    def test_the_same_function_times_out_naming_the_missing_route(self, without_endpoint):
        cloud = without_endpoint
        answer = cloud.invoke(cloud.outputs["FunctionName"], {"id": "n-1"})
        assert answer["FunctionError"] == "Unhandled"
        assert answer["Payload"]["errorType"] == "ConnectTimeoutError"
        [timeout] = cloud.trace.find("timeout")
        assert timeout.source == cloud.outputs["FunctionName"] and timeout.target == "dynamodb"
        assert "has no route to dynamodb: add a gateway endpoint or a NAT" in timeout.detail
        assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []
