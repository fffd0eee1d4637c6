"""The canary app: a `live` alias on `current_version`, fed by SQS and a LambdaRestApi. A release
publishes version 2 and shifts a tenth of the alias's traffic to it, as a deployment tool's canary
step does with UpdateAlias; each caller then reaches the version the alias draws, with its config."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud

STACK = "CanaryOrdersStack"


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, STACK) as running:
        handler = running.function("OrderHandler")
        handler.environment["RELEASE"] = "2.0"  # the next deploy's $LATEST
        client = running.client("lambda")
        assert client.publish_version(FunctionName=handler.name)["Version"] == "2"
        client.update_alias(
            FunctionName=handler.name,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
        )
        yield running


def test_queued_orders_reach_both_versions_with_their_own_configuration(cloud):
    queue = cloud.physical_id("OrderQueue")
    for n in range(30):
        cloud.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"id": f"o-{n}"}))
    cloud.drain()
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Orders"))["Items"]
    assert len(items) == 30
    releases = Counter((item["version"]["S"], item["release"]["S"]) for item in items)
    assert set(releases) == {("1", "1.0"), ("2", "2.0")}, (
        "each version ran with the release it was published with"
    )
    assert 1 <= releases[("2", "2.0")] <= 8, releases


def test_the_api_calls_through_the_alias(cloud):
    answers = Counter(json.loads(cloud.api().get("/orders").body)["version"] for _ in range(40))
    assert set(answers) <= {"1", "2"}
    assert answers["1"] > answers["2"], answers


def test_the_unqualified_function_is_not_what_the_api_may_call(cloud):
    handler = cloud.function("OrderHandler")
    policies = cloud.kernel.iam.resource
    assert f"{handler.arn}:live" in policies
    assert handler.arn not in policies
