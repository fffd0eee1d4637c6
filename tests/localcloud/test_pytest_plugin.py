"""The pytest plugin, used by a throwaway CDK app that is not in this project's registry.

The app (a queue feeding a Python function that writes to a table, a state machine, outputs) and
its own test file are written to a temporary folder and run by pytest in this process, with the
plugin loaded as its entry point would load it. One of the app's tests expects what only a cloud
that did not run would show; it must fail, and its report must carry the cloud's trace.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.localcloud

HANDLER = """
import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        TABLE.put_item(Item={"id": order["id"], "total": order["total"]})
"""

APP = """
from pathlib import Path

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from localcloud.testing import SYNTH_CONTEXT


class Orders(Construct):
    def __init__(self, scope, construct_id):
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(self, "Queue")
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )
        writer = lambda_.Function(
            self,
            "Writer",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="writer.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "src")),
            environment={"TABLE_NAME": self.table.table_name},
        )
        self.table.grant_write_data(writer)
        writer.add_event_source(SqsEventSource(self.queue))


class ShopStack(Stack):
    def __init__(self, scope, construct_id):
        super().__init__(scope, construct_id)
        orders = Orders(self, "Orders")
        # A second construct with a "Table" of its own: "Table" alone names two resources.
        dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="sku", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )
        stamp = sfn.Pass(self, "Stamp", result=sfn.Result.from_object({"ok": True}), result_path="$.stamp")
        sfn.StateMachine(self, "Flow", definition_body=sfn.DefinitionBody.from_chainable(stamp))
        CfnOutput(self, "QueueUrl", value=orders.queue.queue_url)


def build(outdir=None):
    # This process's CDK started before the plugin could set CDK_VALIDATION=false: say it here.
    app = App(outdir=outdir, context=SYNTH_CONTEXT, builtin_cloud_formation_validation=False)
    return app, ShopStack(app, "ShopStack")
"""

TESTS = """
import json

import pytest

from localcloud import LocalCloudError
from shop import build

APP, STACK = build()


def send_order(cloud, order):
    cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody=json.dumps(order))
    cloud.drain()


def orders(cloud, name):
    return cloud.client("dynamodb").scan(TableName=cloud.physical_id(name))["Items"]


def test_a_queued_order_is_written_by_the_function(local_cloud_for):
    cloud = local_cloud_for(STACK)
    send_order(cloud, {"id": "o-1", "total": 5})
    assert orders(cloud, "Orders/Table") == [{"id": {"S": "o-1"}, "total": {"N": "5"}}]
    by_path = cloud.physical_id("ShopStack/Orders/Table")
    assert by_path == cloud.physical_id("Orders/Table/Resource")
    logical_id = next(
        logical_id
        for logical_id, resource in cloud.artifact.template["Resources"].items()
        if resource["Metadata"].get("aws:cdk:path") == "ShopStack/Orders/Table/Resource"
    )
    assert cloud.physical_id(logical_id) == by_path


def test_a_state_machine_runs_from_the_app_or_its_assembly(local_cloud_for):
    cloud = local_cloud_for(str(APP.synth().directory), "ShopStack")
    execution = cloud.start_execution("Flow", {"id": "o-2"})
    assert execution.status == "RUNNING"
    cloud.drain()
    assert (execution.status, execution.output, execution.states()) == (
        "SUCCEEDED", {"id": "o-2", "stamp": {"ok": True}}, ["Stamp"]
    )


def test_a_name_that_matches_several_or_none_lists_the_candidates(local_cloud_for):
    cloud = local_cloud_for(APP)
    with pytest.raises(LocalCloudError, match=r"'Table' names 2 resources .*ShopStack/Orders/Table \\(") as several:
        cloud.physical_id("Table")
    assert "ShopStack/Table (" in str(several.value)
    with pytest.raises(LocalCloudError, match=r"'Orders/Tabel' names no resource .*did you mean ShopStack/Orders/Table \\(.*ShopStack/Table \\("):
        cloud.physical_id("Orders/Tabel")


def test_expects_the_order_was_never_written(local_cloud_for):
    cloud = local_cloud_for(STACK)
    send_order(cloud, {"id": "o-3", "total": 7})
    assert orders(cloud, "Orders/Table") == []
"""


class KeepModules:
    """pytester unloads what an inner run imported; a second copy of moto or of the local cloud,
    imported by a later test, would split their process-wide state (hooks, backends). Keep them."""

    def pytest_sessionfinish(self) -> None:
        self.loaded = {
            name: module for name, module in sys.modules.items() if name not in {"shop", "test_shop"}
        }


def test_a_throwaway_app_runs_its_tests_in_the_plugins_cloud(pytester: pytest.Pytester, monkeypatch):
    # The plugin sets it for its session, which here is this process: undone after the test.
    monkeypatch.setenv("CDK_VALIDATION", "false")
    pytester.makepyfile(shop=APP, test_shop=TESTS)
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "writer.py").write_text(textwrap.dedent(HANDLER))
    keep = KeepModules()
    result = pytester.runpytest_inprocess(
        "-p", "localcloud.pytest_plugin", "-p", "no:cacheprovider", plugins=[keep]
    )
    for name, module in keep.loaded.items():
        sys.modules.setdefault(name, module)
    result.assert_outcomes(passed=3, failed=1)
    failed = [report for report in result.reprec.getreports("pytest_runtest_logreport") if report.failed]
    assert [report.head_line for report in failed] == ["test_expects_the_order_was_never_written"]
    assert "Left contains one more item: {'id': {'S': 'o-3'}, 'total': {'N': '7'}}" in failed[0].longreprtext
    trace = dict(failed[0].sections)["local cloud trace: ShopStack"]
    assert "Writer" in trace and "sqs" in trace.lower()


def test_a_failing_test_whose_cloud_recorded_nothing_says_so():
    """An empty section under the cloud's heading read as if the report had lost the trace."""
    from types import SimpleNamespace

    from localcloud.pytest_plugin import CLOUDS, pytest_runtest_makereport

    quiet = SimpleNamespace(stack_name="ShopStack", trace=SimpleNamespace(tree=lambda: ""))
    item = SimpleNamespace(**{CLOUDS: [quiet]})
    report = SimpleNamespace(failed=True, sections=[])
    wrapper = pytest_runtest_makereport(item, SimpleNamespace(when="call"))
    next(wrapper)
    with pytest.raises(StopIteration):
        wrapper.send(report)
    [(heading, text)] = report.sections
    assert heading == "local cloud trace: ShopStack"
    assert text.startswith("(nothing recorded") and "no send" in text
