"""Three constructs copied into a CDK app of another shape, with overrides, synthesized there and run.

What the README promises a user: copy ``defaults.py``, a pattern's module, its handlers and
``shared/`` anywhere. Here the constructs go to ``infra/``, the handlers to ``src/lambdas/<name>/``
and ``shared/`` to ``src/shared/``; the app is synthesized in a subprocess whose path does not
hold this repository, so a construct that still reached for ``patterns`` or ``functions/`` fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from localcloud import LocalCloud

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: construct module -> the handler folder it is copied with, and the folder's new name.
COPIED = {
    "simple_web_service": "items",
    "scalable_webhook": "webhook",
    "state_machine": "orders",
}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")

APP = textwrap.dedent(
    """
    import sys

    from aws_cdk import App, CfnOutput, Duration, Stack
    from aws_cdk import aws_kms as kms

    from infra.scalable_webhook import ScalableWebhook
    from infra.simple_web_service import SimpleWebService
    from infra.state_machine import StateMachine

    app = App(
        outdir="cdk.out",
        builtin_cloud_formation_validation=False,
        context={"aws:cdk:enable-asset-metadata": True, "aws:cdk:enable-path-metadata": True},
    )
    stack = Stack(app, "CopiedStack")
    shared = {"shared_dir": "src/shared"}

    items = SimpleWebService(
        stack, "Items", code_dir="src/lambdas/items", function_props={**shared, "memory_size": 512}
    )
    key = kms.Key(stack, "InboxKey", enable_key_rotation=True)
    hook = ScalableWebhook(
        stack,
        "Hook",
        code_dir="src/lambdas/webhook",
        functions_props=shared,
        worker_props={"memory_size": 1024},
        queue_props={"encryption_master_key": key},
    )
    orders = StateMachine(
        stack,
        "Orders",
        code_dir="src/lambdas/orders",
        functions_props=shared,
        state_machine_props={"timeout": Duration.hours(4)},
    )
    outputs = {
        "QueueUrl": hook.queue.queue_url,
        "WebhooksTable": hook.table.table_name,
        "StateMachineArn": orders.state_machine.state_machine_arn,
        "DriversTable": orders.drivers_table.table_name,
        "ConfirmDelivery": orders.confirm_delivery.function_name,
    }
    for name, value in outputs.items():
        CfnOutput(stack, name, value=value)
    app.synth()

    leaked = sorted({m.split(".")[0] for m in sys.modules} & {"patterns", "functions", "shared", "localcloud"})
    assert not leaked, f"the copied app imported {leaked}"
    """
)


def copy_app(root: Path) -> None:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "__init__.py").write_text("")
    shutil.copy(ROOT / "patterns" / "defaults.py", root / "infra" / "defaults.py")
    for module, folder in COPIED.items():
        shutil.copy(ROOT / "patterns" / f"{module}.py", root / "infra" / f"{module}.py")
        shutil.copytree(ROOT / "functions" / module, root / "src" / "lambdas" / folder, ignore=IGNORED)
    shutil.copytree(ROOT / "shared", root / "src" / "shared", ignore=IGNORED)
    (root / "app.py").write_text(APP)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    root = tmp_path_factory.mktemp("copied") / "my-app"
    copy_app(root)
    environment = {
        name: value for name, value in os.environ.items() if name not in {"PYTHONPATH", "PYTHONHOME"}
    }
    # As `cdk synth` runs it: `python app.py` from the app's folder, with this repository off the path.
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=root,
        env={**environment, "CDK_VALIDATION": "false"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with LocalCloud.from_assembly(root / "cdk.out", "CopiedStack") as running:
        running.root = root
        yield running


def test_the_copied_app_synthesized_with_its_overrides(cloud):
    template = json.loads((cloud.root / "cdk.out" / "CopiedStack.template.json").read_text())
    functions = {
        p["Properties"]["Handler"]: p["Properties"]
        for p in template["Resources"].values()
        if p["Type"] == "AWS::Lambda::Function"
    }
    assert functions["items.handler"]["MemorySize"] == 512
    assert functions["worker.handler"]["MemorySize"] == 1024
    queues = [p["Properties"] for p in template["Resources"].values() if p["Type"] == "AWS::SQS::Queue"]
    assert all("KmsMasterKeyId" in q for q in queues) and len(queues) == 2


def test_the_api_construct_serves_a_request(cloud):
    api = cloud.api("Items")
    created = api.post("/items", json={"name": "lamp", "price_cents": 1299})
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert api.get(f"/items/{item_id}").json()["name"] == "lamp"


def test_the_messaging_construct_stores_a_queued_webhook(cloud):
    event = {"id": "evt_1", "type": "payment.succeeded", "data": {"amount": 5}}
    cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody=json.dumps(event))
    cloud.drain()
    stored = cloud.client("dynamodb").scan(TableName=cloud.outputs["WebhooksTable"])["Items"]
    assert [item["id"]["S"] for item in stored] == ["evt_1"]


def test_the_step_functions_construct_delivers_an_order(cloud):
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["DriversTable"],
        Item={"driver_id": {"S": "d-1"}, "zone": {"S": "north"}, "status": {"S": "available"}},
    )
    execution = cloud.start_execution(
        cloud.outputs["StateMachineArn"], {"order_id": "o-1", "customer_id": "c-1", "zone": "north"}
    )
    cloud.drain()
    assert execution.states()[-1] == "AwaitDelivery", execution.cause
    assert cloud.invoke(cloud.outputs["ConfirmDelivery"], {"order_id": "o-1", "delivered": True})[
        "Payload"
    ] == {"statusCode": 202}
    cloud.drain()
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["driver_id"] == "d-1"
