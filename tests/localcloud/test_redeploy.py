"""``serve --watch``: a new synthesis swapped in under a running server, data and ports kept."""

from __future__ import annotations

import dataclasses
import http.client
import json
import sys
import threading
import types
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from localcloud import LocalCloud
from localcloud.__main__ import synthesize
from localcloud.aws_endpoint.door import aws_door
from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.redeploy import diff
from localcloud.server import LocalServer
from localcloud.watch import Reloader, Watch
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import pk_table

pytestmark = pytest.mark.localcloud

STACK = "WatchedStack"
HANDLER = """
import json
import os
import sys

import boto3


def handler(event, context):
    gate = sys.modules.get("redeploy_gate")
    if gate is not None and event["path"] == "/slow":
        gate.entered.set()
        gate.release.wait(10)
        item = {{"pk": {{"S": "written in flight"}}}}
        boto3.client("dynamodb").put_item(TableName=os.environ["TABLE"], Item=item)
    return {{"statusCode": 200, "body": json.dumps({{"version": {version}, "path": event["path"]}})}}
"""


def build(stack: Stack, code: Path, *, second: bool) -> None:
    items = pk_table(stack, "Items")
    sqs.Queue(stack, "Inbox")
    s3.Bucket(stack, "Files", removal_policy=RemovalPolicy.DESTROY)
    secretsmanager.Secret(stack, "Token")
    if second:
        sns.Topic(stack, "Announcements")
    else:
        sqs.Queue(stack, "Retired")
    api = lambda_.Function(
        stack,
        "Api",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(code)),
        environment={"TABLE": items.table_name},
    )
    items.grant_write_data(api)
    apigateway.LambdaRestApi(stack, "Rest", handler=api, cloud_watch_role=False)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[StackArtifact, StackArtifact]:
    """The stack as first written, and after an edit: a queue removed, a topic added, new code."""
    root = tmp_path_factory.mktemp("watched")
    artifacts = []
    for version in (1, 2):
        code = root / f"code{version}"
        code.mkdir()
        (code / "handler.py").write_text(HANDLER.format(version=version))
        app = App(outdir=str(root / f"cdk.out{version}"), context=SYNTH_METADATA)
        build(Stack(app, STACK), code, second=version == 2)
        artifacts.append(load_stack(app.synth().directory, STACK))
    return tuple(artifacts)


@pytest.fixture
def served(versions):
    first, _ = versions
    with LocalCloud(first) as cloud, LocalServer(cloud, real_time=False) as server:
        server.start()
        yield server
    server.cloud.stop()


def get(server: LocalServer, path: str) -> tuple[int, dict]:
    door = urlsplit(server.front_doors[0].url)
    connection = http.client.HTTPConnection(door.hostname, door.port, timeout=10)
    try:
        connection.request("GET", door.path.rstrip("/") + path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def put_data(cloud: LocalCloud) -> None:
    cloud.client("dynamodb").put_item(
        TableName=cloud.physical_id("Items"), Item={"pk": {"S": "kept"}, "n": {"N": "7"}}
    )
    cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Inbox"), MessageBody="still here")
    cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Retired"), MessageBody="gone")
    cloud.client("s3").put_object(
        Bucket=cloud.physical_id("Files"), Key="a/b.txt", Body=b"object", ContentType="text/plain"
    )
    cloud.client("secretsmanager").put_secret_value(
        SecretId=cloud.physical_id("Token"), SecretString="rotated"
    )


def assert_data_kept(cloud: LocalCloud) -> None:
    item = cloud.client("dynamodb").get_item(TableName=cloud.physical_id("Items"), Key={"pk": {"S": "kept"}})
    assert item["Item"] == {"pk": {"S": "kept"}, "n": {"N": "7"}}
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Inbox"))["Messages"]
    assert message["Body"] == "still here"
    found = cloud.client("s3").get_object(Bucket=cloud.physical_id("Files"), Key="a/b.txt")
    assert (found["Body"].read(), found["ContentType"]) == (b"object", "text/plain")
    secret = cloud.client("secretsmanager").get_secret_value(SecretId=cloud.physical_id("Token"))
    assert secret["SecretString"] == "rotated"


def test_diff_names_added_removed_and_code_changed(versions):
    first, second = versions
    changes = diff(first.template, second.template)
    assert [i[:13] for i in changes.added] == ["Announcements"]
    assert [i[:7] for i in changes.removed] == ["Retired"]
    assert [i[:3] for i in changes.code_changed] == ["Api"]
    assert set(changes.changed) >= set(changes.code_changed)
    assert diff(first.template, first.template).lines() == ["no resource changed"]


def test_a_layer_whose_code_changed_names_the_functions_using_it():
    def template(layer_key: str, function_key: str) -> dict:
        function = {"Code": {"S3Key": function_key}, "Layers": [{"Ref": "Shared"}, "arn:aws:lambda:x"]}
        return {
            "Resources": {
                "Shared": {
                    "Type": "AWS::Lambda::LayerVersion",
                    "Properties": {"Content": {"S3Key": layer_key}},
                },
                "Uses": {"Type": "AWS::Lambda::Function", "Properties": function},
                "Alone": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "c"}}},
            }
        }

    changes = diff(template("a.zip", "f.zip"), template("b.zip", "f.zip"))
    assert (changes.code_changed, changes.via_layers) == (["Shared"], ["Uses"])
    assert "code changed through a layer: Uses" in changes.lines()
    changes = diff(template("a.zip", "f.zip"), template("b.zip", "g.zip"))
    assert (changes.code_changed, changes.via_layers) == (["Shared", "Uses"], [])


def test_an_edit_that_changes_no_resource_leaves_the_stack_as_it_is(served, versions):
    first, _ = versions
    put_data(served.cloud)
    before = served.cloud
    lines: list[str] = []
    assert Reloader(served, _StubWatch(), lambda: first, out=lines.append).check(now=0.0) is None
    assert served.cloud is before and lines[-1] == "  no resource changed: the stack serves on as it is"


def test_an_edit_to_the_outputs_alone_redeploys_and_prints_the_new_values(served, versions):
    """CloudFormation updates a stack whose outputs alone changed: describe-stacks then lists them."""
    first, _ = versions
    put_data(served.cloud)
    table = served.cloud.physical_id("Items")
    outputs = {
        **first.template["Outputs"],
        "TableName": {"Value": {"Ref": served.cloud.kernel.logical_id("Items")}},
    }
    edited = dataclasses.replace(first, template={**first.template, "Outputs": outputs})
    lines: list[str] = []
    assert Reloader(served, _StubWatch(), lambda: edited, out=lines.append).check(now=0.0) is not None
    assert served.cloud.outputs["TableName"] == table
    assert f"  outputs: TableName = {table}" in lines, lines
    assert_data_kept(served.cloud)
    lines.clear()
    assert Reloader(served, _StubWatch(), lambda: first, out=lines.append).check(now=0.0) is not None
    assert "TableName" not in served.cloud.outputs and "  outputs removed: TableName" in lines, lines


def test_a_redeploy_keeps_data_and_port_and_serves_the_new_code(served, versions):
    _, second = versions
    put_data(served.cloud)
    port = served.ports()
    assert get(served, "/hello") == (200, {"version": 1, "path": "/hello"})
    watch = _StubWatch()
    lines: list[str] = []
    reloader = Reloader(served, watch, lambda: second, out=lines.append)

    changes = reloader.check(now=0.0)

    assert changes is not None and served.ports() == port
    assert get(served, "/hello") == (200, {"version": 2, "path": "/hello"})
    cloud = served.cloud
    assert_data_kept(cloud)
    assert set(changes.kept) == {
        cloud.kernel.logical_id(name) for name in ("Items", "Inbox", "Files", "Token")
    }
    assert not any(i.startswith("Retired") for i in cloud.resources)
    assert any(i.startswith("Announcements") for i in cloud.resources)
    report = "\n".join(lines)
    assert "code changed: Api" in report and "removed: Retired" in report and "added: Announcements" in report
    assert "redeployed in" in report and changes.seconds > 0


def test_the_aws_endpoint_keeps_its_port_and_answers_for_the_new_stack(versions):
    first, second = versions
    with (
        LocalCloud(first) as cloud,
        LocalServer(cloud, real_time=False, extra_doors=[aws_door(0)]) as server,
    ):
        server.start()
        put_data(cloud)
        endpoint = server.front_doors[-1].url
        role = cloud.function("Api").role_arn
        role_keys = assume_role(endpoint, role)
        Reloader(server, _StubWatch(), lambda: second, out=lambda line: None).check(now=0.0)
        assert server.front_doors[-1].url == endpoint
        table = {"TableName": server.cloud.physical_id("Items")}
        _, refused = aws_call(endpoint, "DeleteTable", table, *role_keys)
        assert refused["__type"] == "AccessDeniedException", "the role's keys stay the role's"
        assert "assumed-role" in refused["message"]
        status, refused = aws_call(endpoint, "DeleteTable", table, role_keys[0], "forged")
        assert (status, refused["__type"]) == (403, "InvalidClientTokenId"), "a token not issued is refused"
        key = {"pk": {"S": "kept"}}
        status, item = aws_call(
            endpoint, "GetItem", {"TableName": server.cloud.physical_id("Items"), "Key": key}
        )
        assert (status, item["Item"]["n"]) == (200, {"N": "7"})
        status, _ = aws_call(endpoint, "DescribeTable", {"TableName": "nothing-here"})
        assert status == 400
    server.cloud.stop()


def assume_role(endpoint: str, role: str) -> tuple[str, str]:
    """The access key and session token ``sts assume-role`` hands out through the endpoint."""
    door = urlsplit(endpoint)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/sts/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    body = urlencode(
        {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role, "RoleSessionName": "watched"}
    )
    connection = http.client.HTTPConnection(door.hostname, door.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return tuple(text.split(f"<{name}>", 1)[1].split("<", 1)[0] for name in ("AccessKeyId", "SessionToken"))


def aws_call(
    endpoint: str, operation: str, params: dict, key: str = "local", token: str | None = None
) -> tuple[int, dict]:
    """A DynamoDB call as an SDK sends it (the endpoint does not verify signatures)."""
    door = urlsplit(endpoint)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    if token is not None:
        headers["X-Amz-Security-Token"] = token
    connection = http.client.HTTPConnection(door.hostname, door.port, timeout=10)
    try:
        connection.request("POST", "/", body=json.dumps(params), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_broken_synth_keeps_the_old_stack_serving(served, tmp_path):
    put_data(served.cloud)
    broken = tmp_path / "app.py"
    broken.write_text("def oops(:\n")
    lines: list[str] = []
    reloader = Reloader(
        served,
        _StubWatch(),
        lambda: load_stack(synthesize(STACK, str(tmp_path / "out"), app=f"{sys.executable} {broken}"), STACK),
        out=lines.append,
    )
    assert reloader.check(now=0.0) is None
    assert any("synth failed" in line and "non-zero exit status" in line for line in lines)
    assert get(served, "/hello") == (200, {"version": 1, "path": "/hello"})
    assert_data_kept(served.cloud)


def test_a_template_that_does_not_start_leaves_the_old_stack_and_its_data(served, versions):
    first, _ = versions
    put_data(served.cloud)
    resources = {**first.template["Resources"], "Odd": {"Type": "AWS::Nowhere::Thing", "Properties": {}}}
    odd = dataclasses.replace(first, template={**first.template, "Resources": resources})
    lines: list[str] = []
    assert Reloader(served, _StubWatch(), lambda: odd, out=lines.append).check(now=0.0) is None
    assert any("did not start" in line and "AWS::Nowhere::Thing" in line for line in lines)
    assert get(served, "/hello") == (200, {"version": 1, "path": "/hello"})
    assert_data_kept(served.cloud)


def test_a_request_in_flight_finishes_before_the_swap(served, versions):
    _, second = versions
    gate = types.ModuleType("redeploy_gate")
    gate.entered, gate.release = threading.Event(), threading.Event()
    swap_waits = threading.Event()
    served.lock = _Announcing(served.lock, "swapper", swap_waits)
    sys.modules["redeploy_gate"] = gate
    answers: list = []
    try:
        request = threading.Thread(target=lambda: answers.append(get(served, "/slow")))
        request.start()
        assert gate.entered.wait(10)
        reloader = Reloader(served, _StubWatch(), lambda: second, out=lambda line: None)
        swapper = threading.Thread(target=reloader.check, kwargs={"now": 0.0}, name="swapper")
        swapper.start()
        assert swap_waits.wait(10)
        gate.release.set()
        request.join(10)
        swapper.join(10)
    finally:
        gate.release.set()
        del sys.modules["redeploy_gate"]
    assert answers == [(200, {"version": 1, "path": "/slow"})]
    written = served.cloud.client("dynamodb").get_item(
        TableName=served.cloud.physical_id("Items"), Key={"pk": {"S": "written in flight"}}
    )
    assert "Item" in written, "the swap waited for the request, and kept what it wrote"
    assert get(served, "/slow") == (200, {"version": 2, "path": "/slow"})


class _StubWatch:
    """A watch that has just seen a change settle: the tests drive the reloader, not the disk."""

    def poll(self, now: float) -> list[str]:
        return ["functions/api/handler.py"]


class _Announcing:
    """The server's lock, announcing when the thread named ``name`` starts waiting for it."""

    def __init__(self, lock, name: str, waiting: threading.Event) -> None:
        self.lock, self.name, self.waiting = lock, name, waiting

    def __enter__(self):
        if threading.current_thread().name == self.name:
            self.waiting.set()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


# ---------------------------------------------------------------------------------------- watch


def test_a_watch_reports_a_change_once_it_has_settled(tmp_path):
    (tmp_path / "functions").mkdir()
    handler = tmp_path / "functions" / "handler.py"
    handler.write_text("one\n")
    watch = Watch(tmp_path, debounce=0.3)
    assert watch.poll(0.0) == []
    handler.write_text("two, longer\n")
    assert watch.poll(1.0) == [], "a change is seen, then waited on"
    assert watch.poll(1.2) == [], "still within the debounce"
    (tmp_path / "functions" / "new.py").write_text("x")
    assert watch.poll(1.25) == [], "a further change restarts the wait"
    assert watch.poll(1.5) == []
    assert watch.poll(1.6) == ["functions/handler.py", "functions/new.py"]
    assert watch.poll(5.0) == [], "reported once"
    handler.unlink()
    watch.poll(6.0)
    assert watch.poll(7.0) == ["functions/handler.py"], "a removal is a change"


def test_a_watch_follows_cdk_json_and_never_looks_at_output_or_environments(tmp_path):
    (tmp_path / "cdk.json").write_text(
        json.dumps(
            {"app": "python3 app.py", "watch": {"include": ["app.py", "patterns/**"], "exclude": ["**/*.md"]}}
        )
    )
    for path in [
        "app.py",
        "patterns/a.py",
        "patterns/deep/b.py",
        "patterns/notes.md",
        "patterns/__pycache__/a.cpython-311.pyc",
        "docs/page.py",
        "cdk.out/asset.1/handler.py",
        ".venv/lib/x.py",
        "node_modules/y/index.js",
        "patterns/.hidden/z.py",
    ]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    watch = Watch.of_app(tmp_path)
    assert sorted(watch.scan()) == ["app.py", "patterns/a.py", "patterns/deep/b.py"]
    bare = tmp_path / "bare"
    for path in ["app.py", "lib/stack.py", "cdk.out/t.json", ".git/HEAD", "venv/bin/python"]:
        (bare / path).parent.mkdir(parents=True, exist_ok=True)
        (bare / path).write_text("x")
    (bare / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    assert sorted(Watch.of_app(bare).scan()) == ["app.py", "cdk.json", "lib/stack.py"]
