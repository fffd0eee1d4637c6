"""A served stack driven through its AWS endpoint by the real AWS CLI and by boto3 in another
process: what they do fires the same behaviour as a call made inside, an assumed role is held to its
policy, and what the endpoint cannot answer is a clear AWS error."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import unittest.mock
from pathlib import Path

import botocore.handlers
import pytest
from awscli.clidriver import create_clidriver

from localcloud import LocalCloud
from localcloud.__main__ import main
from localcloud.aws_endpoint.door import aws_door, aws_examples
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from localcloud.server import LocalServer
from patterns.registry import get
from patterns.storage_first import EVENT_DETAIL_TYPE, EVENT_SOURCE

pytestmark = pytest.mark.e2e


class _ThreadStdout(io.TextIOBase):
    """stdout for one thread only: the CLI's output, without what the served functions print."""

    def __init__(self, thread: int, other: io.TextIOBase) -> None:
        self.thread, self.other, self.buffer_ = thread, other, io.StringIO()

    def write(self, text: str) -> int:
        return (self.buffer_ if threading.get_ident() == self.thread else self.other).write(text)


class Aws:
    """The AWS CLI (``aws --endpoint-url ... <args>``), run in this process as a separate client: its
    session carries none of the local cloud's or moto's botocore hooks."""

    def __init__(self, url: str, config: Path) -> None:
        self.url = url
        self.driver = None
        self.env = {
            "AWS_ACCESS_KEY_ID": "AKIAOUTSIDECALLER",
            "AWS_SECRET_ACCESS_KEY": "outside",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(config),
        }

    def as_role(self, credentials: dict) -> Aws:
        other = Aws(self.url, Path(self.env["AWS_CONFIG_FILE"]))
        other.env.update(
            AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
            AWS_SESSION_TOKEN=credentials["SessionToken"],
        )
        return other

    def run(self, *args: str) -> tuple[int, str, str]:
        """The CLI's exit code, stdout and stderr."""
        outside = [
            hook
            for hook in botocore.handlers.BUILTIN_HANDLERS
            if not getattr(hook[1], "__module__", "").startswith(("localcloud", "moto"))
        ]
        stdout = _ThreadStdout(threading.get_ident(), sys.stdout)
        stderr = io.StringIO()
        environ = {k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"} | self.env
        if self.driver is None:
            with unittest.mock.patch.object(botocore.handlers, "BUILTIN_HANDLERS", outside):
                self.driver = create_clidriver()
        with (
            unittest.mock.patch.dict(os.environ, environ, clear=True),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            code = self.driver.main(["--endpoint-url", self.url, "--output", "json", *args])
        return code, stdout.buffer_.getvalue(), stderr.getvalue()

    def __call__(self, *args: str) -> dict:
        code, out, err = self.run(*args)
        assert code == 0, err
        return json.loads(out) if out.strip() else {}


@contextlib.contextmanager
def served(cloud_assembly, pattern_id: str, variant: str | None = None):
    pattern = get(pattern_id)
    name = pattern.stack_name if variant is None else pattern.variant_stack_name(variant)
    with (
        LocalCloud(load_stack(cloud_assembly.directory, name), start=FIXED_START) as cloud,
        LocalServer(cloud, real_time=False, extra_doors=[aws_door(0)]) as server,
    ):
        door = server.front_doors[-1]
        # A short poll, so the server stops at once when the class is done.
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield cloud, door.url
        finally:
            server.shutdown()
            thread.join()


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.write_text("")
    return empty


@pytest.fixture(scope="class")
def webhook(cloud_assembly, config):
    with served(cloud_assembly, "scalable_webhook") as (cloud, url):
        yield cloud, Aws(url, config)


class TestScalableWebhook:
    def test_a_message_sent_with_the_cli_reaches_the_worker_and_scan_shows_what_it_wrote(self, webhook):
        cloud, aws = webhook
        body = json.dumps({"id": "evt_cli", "type": "payment.succeeded", "data": {"n": 1}})
        sent = aws("sqs", "send-message", "--queue-url", cloud.outputs["QueueUrl"], "--message-body", body)
        assert sent["MessageId"]
        scanned = aws("dynamodb", "scan", "--table-name", cloud.outputs["TableName"])
        assert [item["id"]["S"] for item in scanned["Items"]] == ["evt_cli"]
        [invoke] = cloud.trace.find("invoke", target=cloud.function("Pattern/Worker").name)
        assert invoke.source.startswith("sqs"), "the queue's event source delivered it"

    def test_describe_stacks_and_list_stack_resources_answer_as_after_a_deploy(self, webhook):
        cloud, aws = webhook
        [stack] = aws("cloudformation", "describe-stacks", "--stack-name", cloud.stack_name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == cloud.outputs
        listed = aws("cloudformation", "list-stack-resources", "--stack-name", cloud.stack_name)
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed["StackResourceSummaries"]}
        assert physical == {logical_id: r.physical_id for logical_id, r in cloud.resources.items()}
        code, _, err = aws.run("cloudformation", "describe-stacks", "--stack-name", "NoSuchStack")
        assert code != 0 and "NoSuchStack does not exist" in err

    def test_an_assumed_role_acts_as_that_role_and_is_denied_what_its_policy_lacks(self, webhook):
        cloud, aws = webhook
        role = cloud.function("Pattern/Worker").role_arn
        assumed = aws("sts", "assume-role", "--role-arn", role, "--role-session-name", "cli")
        worker = aws.as_role(assumed["Credentials"])
        assert worker("sts", "get-caller-identity")["Arn"].endswith(f"/{role.rsplit('/', 1)[-1]}/cli")
        table = cloud.outputs["TableName"]
        item = json.dumps({"id": {"S": "by-role"}})
        assert worker("dynamodb", "put-item", "--table-name", table, "--item", item) == {}
        code, _, err = worker.run("dynamodb", "delete-table", "--table-name", table)
        assert code != 0
        assert "AccessDeniedException" in err and "dynamodb:DeleteTable" in err and "assumed-role" in err
        assert aws("dynamodb", "describe-table", "--table-name", table)["Table"]["TableName"] == table
        code, _, err = worker.run("cloudformation", "describe-stacks", "--stack-name", cloud.stack_name)
        assert code != 0 and "AccessDenied" in err and "cloudformation:DescribeStacks" in err
        forged = aws.as_role(assumed["Credentials"] | {"SessionToken": "forged"})
        code, _, err = forged.run("dynamodb", "delete-table", "--table-name", table)
        assert code != 0 and "InvalidClientTokenId" in err and "security token included" in err
        code, _, err = aws.run(
            "sts", "assume-role", "--role-arn", role + "Gone", "--role-session-name", "cli"
        )
        assert code != 0 and "AccessDenied" in err

    def test_lambda_invoke_runs_the_function_here_and_answers_as_lambda_does(self, webhook, tmp_path):
        cloud, aws = webhook
        worker = cloud.function("Pattern/Worker")
        out = tmp_path / "out.json"
        invoked = aws(
            "lambda",
            "invoke",
            "--function-name",
            worker.name,
            "--payload",
            '{"Records": []}',
            str(out),
        )
        assert (invoked["StatusCode"], json.loads(out.read_text())) == (200, {"batchItemFailures": []})
        assert cloud.trace.find("invoke", target=worker.name)[-1].source == "sdk"
        code, _, err = aws.run("lambda", "invoke", "--function-name", "NoSuchFunction", str(out))
        assert code != 0 and "ResourceNotFoundException" in err and "NoSuchFunction" in err

    def test_s3_objects_go_in_and_come_out_whole(self, webhook, tmp_path):
        _, aws = webhook
        (tmp_path / "in.txt").write_text("hello s3")
        aws("s3api", "create-bucket", "--bucket", "cli-bucket")
        key = "folder/a file.txt"
        put = [
            "--bucket",
            "cli-bucket",
            "--key",
            key,
            "--body",
            str(tmp_path / "in.txt"),
            "--metadata",
            "owner=cli",
        ]
        aws("s3api", "put-object", *put)
        head = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", key)
        assert (head["ContentLength"], head["Metadata"]) == (8, {"owner": "cli"})
        aws("s3api", "get-object", "--bucket", "cli-bucket", "--key", key, str(tmp_path / "out.txt"))
        assert (tmp_path / "out.txt").read_text() == "hello s3"

    def test_serve_prints_aws_cli_lines_that_run(self, webhook):
        cloud, aws = webhook
        lines = aws_examples(cloud, aws.url)
        assert any(
            f"sqs send-message --message-body '{{}}' --queue-url {cloud.outputs['QueueUrl']}" in line
            for line in lines
        )
        [stack] = aws(*shlex.split(lines[1])[5:])["Stacks"]
        assert stack["StackName"] == cloud.stack_name

    def test_the_printed_lines_give_the_cli_keys_in_a_shell_that_has_none(self, webhook):
        cloud, aws = webhook
        [export] = [line for line in aws_examples(cloud, aws.url) if line.startswith("export ")]
        bare = {"PATH": os.environ["PATH"]}
        assert shell_says(export, bare) == "local local"
        assert shell_says(
            export, {**bare, "AWS_ACCESS_KEY_ID": "AKIAMINE", "AWS_SECRET_ACCESS_KEY": "mine"}
        ) == ("AKIAMINE mine")

    def test_serve_help_names_the_aws_port(self, capsys):
        with pytest.raises(SystemExit):
            main(["serve", "--help"])
        assert "--aws-port PORT" in capsys.readouterr().out

    def test_boto3_in_another_process_drives_the_stack(self, webhook):
        cloud, aws = webhook
        script = (
            "import boto3, json, sys\n"
            "from botocore.config import Config\n"
            "url, queue, table = sys.argv[1:]\n"
            # The child times out on real time: this process's clock is virtual.
            "config = Config(read_timeout=30, connect_timeout=5, retries={'total_max_attempts': 1})\n"
            "sqs = boto3.client('sqs', endpoint_url=url, config=config)\n"
            "body = {'id': 'evt_boto3', 'type': 'payment.succeeded', 'data': {}}\n"
            "sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))\n"
            "items = boto3.client('dynamodb', endpoint_url=url, config=config).scan(TableName=table)['Items']\n"
            "print(json.dumps(sorted(item['id']['S'] for item in items)))"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | aws.env
        done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-c", script, aws.url, cloud.outputs["QueueUrl"], cloud.outputs["TableName"]],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert "evt_boto3" in json.loads(done.stdout), "the worker stored what boto3 sent"

    def test_what_the_endpoint_cannot_answer_is_a_clear_aws_error(self, webhook):
        _, aws = webhook
        code, _, err = aws.run("ec2", "describe-instances")
        assert code != 0 and "UnsupportedService" in err and "'ec2' is not served" in err
        port = int(aws.url.rsplit(":", 1)[1].strip("/"))
        signed = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/{}/aws4_request, Signature=0"
        elsewhere = signed.replace("us-east-1", "eu-west-1")
        for headers, body, status, message in [
            ({}, b"{}", 403, "missing Authentication Token"),
            (
                {"Authorization": elsewhere.format("sqs"), "X-Amz-Target": "AmazonSQS.ListQueues"},
                b"{}",
                400,
                "signed for eu-west-1",
            ),
            (
                {"Authorization": signed.format("sqs"), "X-Amz-Target": "AmazonSQS.Teleport"},
                b"{}",
                400,
                "names no sqs operation",
            ),
            (
                {"Authorization": signed.format("sqs"), "X-Amz-Target": "AmazonSQS.SendMessage"},
                b"{not json",
                400,
                "not valid json",
            ),
            (
                {"Authorization": signed.format("sqs"), "X-Amz-Target": "AmazonSQS.SendMessage"},
                b'{"QueueUrl": 5}',
                400,
                "MessageBody",
            ),
        ]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", "/", body, headers)
            answer = connection.getresponse()
            text = answer.read().decode()
            connection.close()
            assert (answer.status, message in text) == (status, True), text
        assert aws("sqs", "list-queues")["QueueUrls"], "the endpoint still answers"

    def test_a_body_that_is_not_json_or_nested_too_deep_is_a_400(self, webhook):
        cloud, aws = webhook
        port = int(aws.url.rsplit(":", 1)[1].strip("/"))
        signed = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/{}/aws4_request, Signature=0"
        invocations = f"/2015-03-31/functions/{cloud.function('Pattern/Worker').name}/invocations"
        deep = b"[" * 100_000 + b"]" * 100_000
        scan = {"Authorization": signed.format("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.Scan"}
        for path, headers, body, code, message in [
            (
                invocations,
                {"Authorization": signed.format("lambda")},
                b"{not json",
                "InvalidRequestContentException",
                "Could not parse request body into json",
            ),
            (
                invocations,
                {"Authorization": signed.format("lambda")},
                deep,
                "InvalidRequestContentException",
                "Could not parse request body into json",
            ),
            ("/", scan, deep, "SerializationException", "not valid json"),
        ]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            text = answer.read().decode()
            connection.close()
            assert (answer.status, code in text, message in text) == (400, True, True), text


@pytest.fixture(scope="class")
def crud(cloud_assembly, config):
    with served(cloud_assembly, "sfn_crud") as (cloud, url):
        yield cloud, Aws(url, config)


class TestSfnCrud:
    def test_start_execution_runs_the_workflow(self, crud):
        cloud, aws = crud
        machine = cloud.outputs["StateMachineArn"]
        payload = json.dumps({"method": "PUT", "id": "cli-1", "body": {"name": "cup", "price": 3}})
        started = aws("stepfunctions", "start-execution", "--state-machine-arn", machine, "--input", payload)
        assert machine.rsplit(":", 1)[1] in started["executionArn"]
        [item] = aws("dynamodb", "scan", "--table-name", cloud.outputs["TableName"])["Items"]
        assert item["id"]["S"] == "cli-1"

    def test_the_printed_line_for_an_express_machine_runs_it_synchronously(self, crud):
        """The CLI sends StartSyncExecution to ``sync-<endpoint host>``, a host that does not resolve,
        unless host prefixes are off: the printed line turns them off for that one command."""
        cloud, aws = crud
        machine = cloud.outputs["StateMachineArn"]
        [line] = [line for line in aws_examples(cloud, aws.url) if "stepfunctions" in line]
        words = shlex.split(line)
        settings = dict(word.split("=", 1) for word in words[: words.index("aws")])
        assert settings == {"AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
        args = words[words.index("aws") + 5 :]
        assert args[:2] == ["stepfunctions", "start-sync-execution"] and machine in args
        payload = json.dumps({"method": "PUT", "id": "sync-1", "body": {"name": "mug", "price": 4}})
        args[args.index("--input") + 1] = payload
        aws.env.update(settings)
        try:
            answered = aws(*args)
        finally:
            del aws.env["AWS_DISABLE_HOST_PREFIX_INJECTION"]
        assert (answered["status"], json.loads(answered["input"])) == ("SUCCEEDED", json.loads(payload))
        stored = aws(
            "dynamodb",
            "get-item",
            "--table-name",
            cloud.outputs["TableName"],
            "--key",
            '{"id": {"S": "sync-1"}}',
        )
        assert stored["Item"]["name"]["S"] == "mug"


@pytest.fixture(scope="class")
def bus(cloud_assembly, config):
    with served(cloud_assembly, "storage_first", "eventbridge") as (cloud, url):
        yield cloud, Aws(url, config)


class TestStorageFirstEventBus:
    def test_put_events_matches_the_rule_and_the_processor_stores_it(self, bus):
        cloud, aws = bus
        detail = json.dumps({"request_id": "cli-req", "body": {"type": "order.placed", "payload": {}}})
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": EVENT_DETAIL_TYPE,
            "EventBusName": cloud.outputs["EventBusName"],
            "Detail": detail,
        }
        put = aws("events", "put-events", "--entries", json.dumps([entry]))
        assert put["FailedEntryCount"] == 0
        items = aws("dynamodb", "scan", "--table-name", cloud.outputs["ProcessedTableName"])["Items"]
        assert [item["request_id"]["S"] for item in items] == ["cli-req"]

    def test_the_printed_put_events_line_sends_an_event_the_rule_matches(self, bus):
        """An event of source ``cli`` matches no rule a stack has: the line is made from a rule's
        pattern, so pasting it shows the rule delivering."""
        cloud, aws = bus
        [line] = [line for line in aws_examples(cloud, aws.url) if " events put-events " in line]
        [entry] = json.loads(shlex.split(line)[-1])
        assert (entry["Source"], entry["DetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
        assert entry["EventBusName"] == cloud.outputs["EventBusName"]
        delivered = len(cloud.trace.find("deliver"))
        assert aws(*shlex.split(line)[5:])["FailedEntryCount"] == 0
        [rule] = [
            r for r, res in cloud.artifact.template["Resources"].items() if res["Type"] == "AWS::Events::Rule"
        ]
        sources = [span.source for span in cloud.trace.find("deliver")[delivered:]]
        assert sources[:1] == [f"rule:{cloud.physical_id(rule).rpartition('|')[2]}"], sources


def shell_says(line: str, env: dict[str, str]) -> str:
    """The keys the CLI would find after a shell with ``env`` ran the printed ``line``."""
    script = f'{line}\necho "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY"'
    bash = shutil.which("bash", path=env["PATH"])
    assert bash is not None
    done = subprocess.run(  # noqa: S603 - the project's own printed line
        [bash, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
