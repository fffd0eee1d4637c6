"""A breakpoint in a handler stops, under pytest and under ``serve``: handlers run in this process,
from their source files, so pdb and tracer-based debuggers see the lines of ``functions/<id>/``."""

from __future__ import annotations

import http.client
import io
import os
import pdb
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_

from localcloud import LocalCloud
from patterns.defaults import FUNCTIONS_DIR
from patterns.stack import SYNTH_METADATA, UNSTAGED

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HANDLER = """\
def handler(event, context):
    secret = event["path"].strip("/") * 2
    breakpoint()
    return {"statusCode": 200, "body": secret}
"""
#: What a developer types at the prompt: print a local, then continue.
PDB_INPUT = "p secret * 2\nc\n"


def traced(run, wanted) -> list[tuple[str, str, int, bool]]:
    """``(file, function, line, on the main thread)`` of every line executed in a file ``wanted``
    accepts while ``run()`` runs, seen by a tracer set as IDE debuggers set theirs."""
    seen = []

    def tracer(frame, event, arg):
        if not wanted(frame.f_code.co_filename):
            return None
        if event == "line":
            main = threading.current_thread() is threading.main_thread()
            seen.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno, main))
        return tracer

    sys.settrace(tracer)
    threading.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
        threading.settrace(None)
    return seen


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_tracer_sees_the_handler_in_its_source_file(local_cloud):
    cloud = local_cloud("simple_web_service")
    source = FUNCTIONS_DIR / "simple_web_service" / "items.py"
    seen = traced(
        lambda: cloud.api().post("/items", json={"name": "lamp", "price_cents": 1299}),
        lambda filename: filename.startswith(str(FUNCTIONS_DIR)),
    )
    assert {filename for filename, *_ in seen} == {str(source)}
    assert ("handler", line_of(source, "return app.resolve(event, context)")) in {
        (f, n) for _, f, n, _ in seen
    }


def test_a_tracer_follows_handlers_into_the_threads_the_cloud_runs_them_on(local_cloud):
    cloud = local_cloud("state_machine")
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["DriversTableName"],
        Item={"driver_id": {"S": "d-1"}, "zone": {"S": "north"}, "status": {"S": "available"}},
    )
    order = {"order_id": "o-1", "customer_id": "c-1", "zone": "north"}
    seen = traced(
        lambda: (cloud.start_execution(cloud.outputs["StateMachineArn"], order), cloud.advance(0)),
        lambda filename: filename.startswith(str(FUNCTIONS_DIR)),
    )
    source = FUNCTIONS_DIR / "state_machine" / "assign_driver.py"
    in_threads = {(filename, main) for filename, _, _, main in seen}
    assert (str(source), False) in in_threads, "a Step Functions task runs on an execution thread"


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A stack with one API whose handler calls ``breakpoint()``, synthesized unstaged as ``serve``
    synthesizes: the assembly folder and the handler's source file."""
    root = tmp_path_factory.mktemp("debug")
    code = root / "code"
    code.mkdir()
    (code / "handler.py").write_text(HANDLER)
    app = App(
        outdir=str(root / "cdk.out"),
        builtin_cloud_formation_validation=False,
        context={**SYNTH_METADATA, **UNSTAGED},
    )
    stack = Stack(app, "DebugStack")
    function = lambda_.Function(
        stack,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(code)),
    )
    apigateway.LambdaRestApi(stack, "Api", handler=function, cloud_watch_role=False)
    return app.synth().directory, code / "handler.py"


def _stopped_at(output: str, handler: Path) -> None:
    """pdb stopped at ``breakpoint()`` of the source file (from Python 3.13 on the call's own line, before
    on the line after it), and answered from its frame."""
    line = line_of(handler, "breakpoint()") + (0 if sys.version_info >= (3, 13) else 1)
    assert f"> {handler}({line})handler()" in output, output
    assert "'abcabcabcabc'" in output, output


def test_a_breakpoint_stops_in_the_handler_under_pytest(debug_stack, monkeypatch):
    """pytest routes ``breakpoint()`` to its pdb with capture suspended; here the hook is a pdb
    reading the developer's keystrokes from a string, so nothing waits on a terminal."""
    assembly, handler = debug_stack
    typed, shown = io.StringIO(PDB_INPUT), io.StringIO()

    def hook(*args, **kwargs):
        pdb.Pdb(stdin=typed, stdout=shown, nosigint=True).set_trace(sys._getframe(1))

    monkeypatch.setattr(sys, "breakpointhook", hook)
    with LocalCloud.from_assembly(assembly, "DebugStack") as cloud:
        assert cloud.api().get("/abc").body == b"abcabc"
    _stopped_at(shown.getvalue(), handler)


def test_a_breakpoint_stops_in_the_handler_under_serve(debug_stack, tmp_path):
    """``serve`` in its own process, as a developer runs it: pdb takes the terminal (here, a pipe)."""
    assembly, handler = debug_stack
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONBREAKPOINT", None)
    served = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "localcloud", "serve", "DebugStack", "--assembly", assembly, "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        served.stdin.write(PDB_INPUT)
        served.stdin.flush()
        lines = []
        for line in served.stdout:
            lines.append(line)
            if door := re.search(r"(http://127\.0\.0\.1:\d+/prod/)", line):
                break
        else:
            pytest.fail("serve printed no front door:\n" + "".join(lines))
        url = urlsplit(door[1])
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        connection.request("GET", "/prod/abc")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"abcabc")
        connection.close()
        served.terminate()  # after a breakpoint, pdb takes Ctrl-C for itself
        rest, _ = served.communicate(timeout=20)
    finally:
        if served.poll() is None:
            served.kill()
            served.wait()
    _stopped_at("".join(lines) + rest, handler)
