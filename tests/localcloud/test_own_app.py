"""What a user of another CDK app meets first: naming resources, giving the fixture an app, serving it.

The fixture itself runs in test_pytest_plugin.py; here are its refusals, the lookup's rules on
hand-made templates, and the context ``python -m localcloud serve`` gives an app, as the CDK CLI does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from localcloud.__main__ import TARGET_CONTEXT, synthesize
from localcloud.core.assembly import StackArtifact
from localcloud.core.lookup import LISTED, logical_id_named
from localcloud.errors import LocalCloudError
from localcloud.testing import SYNTH_CONTEXT, cloud_for

pytestmark = pytest.mark.localcloud


def artifact(paths: dict[str, str]) -> StackArtifact:
    resources = {
        lid: {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": path}} for lid, path in paths.items()
    }
    return StackArtifact("Shop", {"Resources": resources}, Path("."))


SHOP = artifact(
    {
        "OrdersTableA1": "Shop/Orders/Table/Resource",
        "TableB2": "Shop/Table/Resource",
        "ShopC3": "Shop/Shop/Resource",
        "NestedD4": "Shop/Wrapper/Shop/Shop/Resource",
        "Plain": "Plain",
    }
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OrdersTableA1", "OrdersTableA1"),
        ("Orders/Table", "OrdersTableA1"),
        ("Shop/Orders/Table", "OrdersTableA1"),
        ("Shop/Orders/Table/Resource", "OrdersTableA1"),
        ("/Orders/Table/", "OrdersTableA1"),
        # The whole path wins over another resource's path that merely ends so.
        ("Shop/Shop", "ShopC3"),
        ("Wrapper/Shop/Shop", "NestedD4"),
    ],
)
def test_a_resource_is_named_by_logical_id_or_construct_path(name, expected):
    assert logical_id_named(SHOP, SHOP.template["Resources"], name) == expected


def test_a_name_of_several_resources_lists_them_by_path_and_logical_id():
    with pytest.raises(LocalCloudError) as raised:
        logical_id_named(SHOP, SHOP.template["Resources"], "Table")
    assert str(raised.value) == (
        "'Table' names 2 resources of Shop: Shop/Orders/Table (OrdersTableA1), Shop/Table (TableB2); "
        "give more of the construct path, or the logical id"
    )


def test_a_name_of_nothing_lists_near_misses_else_everything():
    with pytest.raises(
        LocalCloudError, match=r"did you mean Shop/Orders/Table \(OrdersTableA1\), Shop/Table"
    ):
        logical_id_named(SHOP, SHOP.template["Resources"], "Orders/Tabel")
    with pytest.raises(
        LocalCloudError, match=r"names no resource of Shop .*; it has Plain, Shop/Orders/Table"
    ):
        logical_id_named(SHOP, SHOP.template["Resources"], "Bucket")
    many = artifact({f"Queue{n:02}": f"Shop/Q{n:02}/Resource" for n in range(LISTED + 5)})
    with pytest.raises(LocalCloudError, match=r"Shop/Q19 \(Queue19\) and 5 more$"):
        logical_id_named(many, many.template["Resources"], "Bucket")


def test_the_fixture_refuses_an_app_without_the_metadata_it_needs():
    from aws_cdk import App, Stack

    app = App(context={"aws:cdk:enable-path-metadata": True})
    with pytest.raises(
        LocalCloudError, match=r"lacks the context aws:cdk:enable-asset-metadata: .*SYNTH_CONTEXT"
    ):
        cloud_for(Stack(app, "Bare"))
    with pytest.raises(LocalCloudError, match=r"stack_name 'Other' given with the stack 'Bare'"):
        cloud_for(app.node.find_child("Bare"), "Other")
    with pytest.raises(
        LocalCloudError, match=r"int is not a CDK Stack, App or Stage, nor a cdk.out directory"
    ):
        cloud_for(42)


def test_an_assembly_of_several_stacks_needs_the_stack_named(tmp_path):
    stacks = {
        name: {"type": "aws:cloudformation:stack", "properties": {"templateFile": "t.json"}} for name in "AB"
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": stacks}))
    with pytest.raises(LocalCloudError, match=r"has 2 stacks, name one: A, B"):
        cloud_for(tmp_path)


def test_a_stack_not_named_or_misnamed_in_an_app_names_the_app_not_its_temporary_folder():
    """The CDK synthesizes an App into a temporary folder the user never chose: not one to name."""
    from aws_cdk import App, Stack

    app = App(context=SYNTH_CONTEXT)
    for name in "AB":
        Stack(app, name)
    with pytest.raises(LocalCloudError) as several:
        cloud_for(app)
    assert str(several.value) == "the app has 2 stacks, name one: A, B"
    with pytest.raises(LocalCloudError) as misnamed:
        cloud_for(app, "C")
    assert str(misnamed.value) == "the app has no stack 'C'; its stacks: A, B"


SENDER = """
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["INBOX"], MessageBody=os.environ["AWS_REGION"])
    return {"sent": True}
"""


def test_a_stack_bound_to_an_account_and_region_runs_in_them(tmp_path):
    """CDK writes a concrete environment into the template (ARNs with the account, URLs with the
    region): run elsewhere, a Lambda permission naming the account refused API Gateway with a 500."""
    from aws_cdk import App, CfnOutput, Environment, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs

    app = App(context=SYNTH_CONTEXT)
    stack = Stack(app, "Placed", env=Environment(account="111122223333", region="eu-west-1"))
    (tmp_path / "sender.py").write_text(SENDER)
    inbox = sqs.Queue(stack, "Inbox")
    sender = lambda_.Function(
        stack,
        "Sender",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="sender.handler",
        code=lambda_.Code.from_asset(str(tmp_path)),
        environment={"INBOX": inbox.queue_url},
    )
    inbox.grant_send_messages(sender)
    CfnOutput(stack, "InboxUrl", value=inbox.queue_url)
    with cloud_for(stack) as cloud:
        assert (cloud.account, cloud.region) == ("111122223333", "eu-west-1")
        url = cloud.outputs["InboxUrl"]
        assert url.startswith("https://sqs.eu-west-1.amazonaws.com/111122223333/Placed-Inbox")
        assert cloud.invoke("Sender", {})["Payload"] == {"sent": True}
        [message] = cloud.client("sqs").receive_message(QueueUrl=url)["Messages"]
        assert message["Body"] == "eu-west-1"
    assert "MOTO_ACCOUNT_ID" not in os.environ, "the account is the cloud's, not the process's"


DUMP = "import os, pathlib; pathlib.Path(os.environ['CDK_OUTDIR'], 'context.json').write_text(os.environ['CDK_CONTEXT_JSON'])"


def test_serve_gives_an_app_the_context_the_cdk_cli_would(tmp_path, monkeypatch):
    (tmp_path / "dump.py").write_text(DUMP)
    cdk_json = {"app": f"{sys.executable} dump.py", "context": {"flag": True, "shared": "cdk.json"}}
    (tmp_path / "cdk.json").write_text(json.dumps(cdk_json))
    (tmp_path / "cdk.context.json").write_text(json.dumps({"shared": "cdk.context.json", "looked-up": 1}))
    monkeypatch.chdir(tmp_path)
    synthesize("ShopStack", str(tmp_path))
    assert json.loads((tmp_path / "context.json").read_text()) == {
        "looked-up": 1,
        "flag": True,
        "shared": "cdk.json",
        **SYNTH_CONTEXT,
        TARGET_CONTEXT: "ShopStack",
        "aws:cdk:disable-asset-staging": True,  # `cdk synth --no-staging`: handlers debug from source
    }
