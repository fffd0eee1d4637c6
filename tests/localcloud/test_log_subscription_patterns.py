"""CloudWatch Logs subscriptions offline, as AWS runs them: space-delimited filter patterns (fields,
``...``, conditions) with the named fields sent as ``extractedFields``, and a Lambda permission
whose ``SourceArn`` names another log group refused when the filter is created."""

from __future__ import annotations

import base64
import gzip
import json
import re

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations

from localcloud import LocalCloud, LocalCloudError
from localcloud.core.clock import FIXED_START
from localcloud.lib.log_patterns import UnsupportedFilterPattern, compile_pattern
from localcloud.lib.log_patterns_delimited import event_fields
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" {status} {size}'
ACCESS = "[ip, user, username, timestamp, request, status_code = 404 || status_code = 410, bytes]"


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("[a, b, c]", "1 2 3", "1 2 3 4"),
        ("[a, b, c]", "1 2 3", "1 2"),
        ("[ip, ...]", "10.0.0.1", ""),
        ("[..., status = 5*]", "x y 503", "x y 200"),
        ("[first, ..., last = end]", "go 1 2 3 end", "go 1 2 3 stop"),
        (ACCESS, APACHE.format(status=410, size=1534), APACHE.format(status=200, size=1534)),
        ("[..., status >= 500 && status < 600, bytes]", "GET 503 12", "GET 499 12"),
        ("[..., status, bytes > 1000]", "GET 200 2048", "GET 200 -"),
        ("[..., bytes = 1000]", "x 1000.0", "x 1000x"),
        ("[level != DEBUG, msg]", "ERROR boom", "DEBUG boom"),
        ('[level, msg = "*disk full*"]', 'WARN "the disk full now"', 'WARN "cpu hot"'),
        ("[a, b = 2 || a = 9]", "9 5", "1 5"),
    ],
)
def test_space_delimited_patterns(pattern, matching, other):
    matcher = compile_pattern(pattern)
    assert matcher(matching)
    assert not matcher(other)


def test_quoted_and_bracketed_text_is_one_field_without_its_delimiters():
    assert event_fields(APACHE.format(status=200, size=5)) == [
        "127.0.0.1",
        "-",
        "frank",
        "10/Oct/2000:13:25:15 -0700",
        "GET /apache_pb.gif HTTP/1.0",
        "200",
        "5",
    ]


@pytest.mark.parametrize(
    "pattern",
    ["[a, a]", "[a, , b]", "[a = 1 || z = 2, b]", "[a > x]", "[a ~ 1]", '[a = "x]', "[1a]", "[a, b"],
)
def test_malformed_space_delimited_patterns_are_refused(pattern):
    with pytest.raises(UnsupportedFilterPattern, match=re.escape(pattern)):
        compile_pattern(pattern)


def test_a_permission_for_another_log_group_does_not_let_the_subscription_in(synth):
    def build_elsewhere(stack: Stack) -> None:
        group = logs.LogGroup(stack, "Group", removal_policy=RemovalPolicy.DESTROY)
        fn = python_function(stack, "Fn", "log_producer")
        fn.add_permission(
            "OtherGroupOnly",
            principal=iam.ServicePrincipal("logs.amazonaws.com"),
            source_arn=f"arn:aws:logs:us-east-1:{stack.account}:log-group:some-other-group:*",
        )
        sub = logs.CfnSubscriptionFilter(
            stack,
            "Sub",
            log_group_name=group.log_group_name,
            destination_arn=fn.function_arn,
            filter_pattern="",
        )
        sub.add_dependency(fn.node.find_child("OtherGroupOnly"))

    with pytest.raises(LocalCloudError, match=r"Sub: could not execute the Lambda function.*AccessDenied"):
        LocalCloud(synth("ElsewhereSubscription", build_elsewhere)).start()


def build(stack: Stack) -> None:
    table = pk_table(stack, "Seen")
    recorder = python_function(
        stack, "Recorder", "event_recorder", environment={"TABLE_NAME": table.table_name}
    )
    table.grant_write_data(recorder)
    logs.SubscriptionFilter(
        stack,
        "NotFound",
        log_group=logs.LogGroup(stack, "Access", removal_policy=RemovalPolicy.DESTROY),
        destination=log_destinations.LambdaDestination(recorder),
        filter_pattern=logs.FilterPattern.literal(ACCESS),
    )


@pytest.fixture(scope="module")
def cloud(synth):
    cloud = LocalCloud(synth("LogSubscriptionPatterns", build), start=FIXED_START)
    cloud.start()
    yield cloud
    cloud.stop()


def test_a_space_delimited_subscription_sends_the_extracted_fields(cloud):
    client, group = cloud.client("logs"), cloud.physical_id("Access")
    client.create_log_stream(logGroupName=group, logStreamName="web")
    lines = [APACHE.format(status=200, size=10), APACHE.format(status=404, size=20)]
    events = [{"timestamp": 1767225600000, "message": line} for line in lines]
    client.put_log_events(logGroupName=group, logStreamName="web", logEvents=events)
    cloud.drain()

    [item] = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Seen"))["Items"]
    data = json.loads(gzip.decompress(base64.b64decode(json.loads(item["event"]["S"])["awslogs"]["data"])))
    [sent] = data["logEvents"]
    assert sent["message"] == lines[1]
    assert sent["extractedFields"] == {
        "ip": "127.0.0.1",
        "user": "-",
        "username": "frank",
        "timestamp": "10/Oct/2000:13:25:15 -0700",
        "request": "GET /apache_pb.gif HTTP/1.0",
        "status_code": "404",
        "bytes": "20",
    }
