"""``python -m localcloud serve <stack or pattern id>``: synthesize, serve on localhost, stream the trace.

The app is the one ``cdk.json`` names (as ``cdk synth`` would run it), so what is served is what
would be deployed. The app is told which stack is wanted through the context value
``localcloud:target``, so an app that honours it synthesizes that stack alone.
"""

from __future__ import annotations

import argparse
import bdb
import errno
import functools
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from localcloud.app_context import cli_context
from localcloud.console import stack_output
from localcloud.errors import LocalCloudError
from localcloud.report import write_report
from localcloud.staged_assets import restage_lost_assets
from localcloud.try_lines import TOKEN_VARIABLE, door_lines, output_lines

TARGET_CONTEXT = "localcloud:target"
#: The first port ``serve`` listens on: not LocalStack's 4566, so both can run side by side.
DEFAULT_PORT = 4580
#: Up to this many spans, ``--report``'s page is rewritten after every request; past it, at most
#: once a second of wall clock (and when serve stops).
REPORT_EVERY_SPANS = 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description="Run a CDK stack offline.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a stack's APIs and distributions on localhost")
    serve.add_argument(
        "target",
        help="a stack name, or a pattern id (simple_web_service -> SimpleWebServiceStack); several, "
        "comma-separated, run side by side in one cloud (parameters then named STACK.NAME=VALUE)",
    )
    serve.add_argument("--assembly", help="an existing cloud assembly (cdk.out) instead of synthesizing")
    serve.add_argument("--app", help="the CDK app command (default: the 'app' of ./cdk.json)")
    serve.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CloudFormation parameter of the stack (repeatable), e.g. LegacyApiHost=127.0.0.1:8080",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"first port; each front door takes the next (default {DEFAULT_PORT}; 4566 is LocalStack's)",
    )
    serve.add_argument(
        "--aws-port",
        type=int,
        metavar="PORT",
        help="also serve the AWS API on this port, for the AWS CLI (aws --endpoint-url "
        "http://127.0.0.1:PORT ...) and any SDK; calls act as an administrator, or as a role assumed "
        "through it (sts assume-role)",
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="re-synthesize when the app's files change (cdk.json's watch.include, e.g. patterns/, "
        "functions/, shared/) and swap the stack in place: same ports, the data of resources whose "
        "logical id stayed (DynamoDB items, SQS messages, S3 objects, secrets) kept",
    )
    serve.add_argument(
        "--physical-names",
        action="store_true",
        help="name resources in the trace by physical name, not construct path (Pattern/Worker)",
    )
    serve.add_argument(
        "--report",
        metavar="FILE",
        help="keep an HTML page of the run at FILE: its Mermaid sequence diagram and trace",
    )
    serve.add_argument(
        "--logs",
        action="store_true",
        help="also print what the functions print (their log lines, EMF metrics) and what moto logs; "
        "without it they reach only the log groups, and failures show in the trace",
    )
    serve.add_argument(
        "--strict-runtime",
        action="store_true",
        help="refuse to run a function whose Python version is not this interpreter's (else a warning)",
    )
    args = parser.parse_args(argv)
    if args.watch and args.assembly:
        parser.error("--watch synthesizes the app on each change: give --app or a cdk.json, not --assembly")
    if args.watch and "," in args.target:
        parser.error("--watch swaps one stack in place: serve one stack to watch it")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("localcloud").setLevel(logging.INFO)
    # Powertools warns when an invocation adds no metric; the cold-start metric is enough here.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    try:
        return _serve(args)
    except (LocalCloudError, LookupError, OSError, subprocess.CalledProcessError) as error:
        print(f"error: {error}{_port_advice(args, error)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, bdb.BdbQuit):  # Ctrl-C, or `q` at a breakpoint's prompt
        return 0


def _port_advice(args: argparse.Namespace, error: Exception) -> str:
    """Which ports a refused bind may be about, and what to do: the OS's error names none."""
    if getattr(error, "errno", None) != errno.EADDRINUSE:
        return ""
    ports = [f"--port {args.port} (and the next ports, one per front door)"] if args.port else []
    if args.aws_port:
        ports.append(f"--aws-port {args.aws_port}")
    return (
        f": a port serve listens on is taken ({' or '.join(ports) or 'any free port'}); is another "
        "serve running? Stop it, or choose free ports with --port and --aws-port (0: any free port)"
    )


def _serve(args: argparse.Namespace) -> int:
    from localcloud.aws_endpoint.door import aws_door
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalServer

    with (
        tempfile.TemporaryDirectory(prefix="localcloud.") as scratch,
        stack_output(show=args.logs) as console,
    ):
        say = functools.partial(print, file=console, flush=True)
        assembly = args.assembly or synthesize(args.target, scratch, app=args.app)
        artifact, parameters = served_artifact(assembly, args.target, args.parameter)
        stack_name = artifact.name
        # Served, the cloud starts at now (the default): what curl, openssl or a browser sends (a
        # signed timestamp, a token's expiry) is checked against the caller's time.
        cloud = LocalCloud(artifact, parameters=parameters, strict_runtime=args.strict_runtime)
        extra = [] if args.aws_port is None else [aws_door(args.aws_port)]
        with cloud, LocalServer(cloud, host=args.host, port=args.port, extra_doors=extra) as server:
            server.on_request = _printer(console, server, args)
            if args.physical_names:
                cloud.trace.labels.clear()
            say(f"{stack_name} is running offline. Front doors:")
            for line in front_door_lines(server, args.host):
                say(line)
            for heading, lines in _startup_sections(cloud, server):
                if lines:
                    say(heading)
                    say("\n".join(f"  {line}" for line in lines))
            reloader = _watch(args, server, scratch, stack_name, say) if args.watch else None
            if args.report:
                say(
                    f"The run's sequence diagram: {Path(args.report).resolve()} (rewritten as requests come)."
                )
            say("Requests and what they cause are printed below. Ctrl-C stops.")
            try:
                server.serve_forever()
            finally:
                if reloader is not None:
                    reloader.stop()
                if args.report:
                    write_report(args.report, server.cloud.stack_name, server.cloud.trace)
                if server.cloud is not cloud:
                    # A redeploy swapped in a cloud of its own: it is the stack now, and is deleted.
                    server.cloud.stop()
    return 0


def _startup_sections(cloud, server) -> list[tuple[str, list[str]]]:
    """What ``serve`` prints under the front doors: the outputs, lines to try (a note on the token
    as a shell comment, so that every line pastes), the secrets."""
    examples = [line for door in server.front_doors for line in door_lines(cloud, door)]
    token_note = []
    if any(f"${TOKEN_VARIABLE}" in line for line in examples):
        token_note = [
            f"# Routes behind an authorizer send ${TOKEN_VARIABLE}: export {TOKEN_VARIABLE}=<a token> first "
            "(the outputs above say how to get one; --aws-port serves the AWS API to call functions with)"
        ]
    return [
        ("Outputs:", output_lines(cloud)),
        ("Try:", [*token_note, *examples]),
        ("Secrets (offline values, e.g. to sign requests with):", secret_lines(cloud)),
    ]


def front_door_lines(server, host: str) -> list[str]:
    """One line per front door, distributions first: a site's URL is the one a person opens."""
    doors = sorted(server.front_doors, key=lambda door: door.kind != "distribution")
    return [f"  {door.kind} {door.name}: {door.url}{_host_note(host, door)}" for door in doors]


def _host_note(host: str, door) -> str:
    """Why a door does not listen on ``--host``: the AWS API is for this machine only."""
    if door.host is None or door.host == host:
        return ""
    return f" (this machine only, not {host}: the AWS API answers unsigned calls as an administrator)"


def _watch(args: argparse.Namespace, server, scratch: str, stack_name: str, say):
    """Start redeploying on changes to the app's files (see :mod:`localcloud.watch`)."""
    from localcloud.core.assembly import load_stack
    from localcloud.watch import Reloader, Watch

    def synthesize_again():
        outdir = tempfile.mkdtemp(prefix="synth.", dir=scratch)
        return load_stack(synthesize(args.target, outdir, app=args.app), stack_name)

    watch = Watch.of_app(".")
    say(f"Watching {len(watch)} files ({', '.join(watch.include)}): a change redeploys the stack.")
    return Reloader(server, watch, synthesize_again, out=say).start()


def synthesize(target: str, outdir: str, *, app: str | None = None, staged: bool = False) -> str:
    """Run the CDK app into ``outdir`` as the CDK CLI would, asking it for ``target`` only."""
    command = app or _app_command()
    unstaged = {} if staged else {"aws:cdk:disable-asset-staging": True}
    env = {
        **os.environ,
        "CDK_OUTDIR": outdir,
        # Unstaged assets (`cdk synth --no-staging`): functions run from their source folders, so a
        # debugger's breakpoints in functions/<id>/*.py are the lines that run.
        "CDK_CONTEXT_JSON": json.dumps(cli_context({TARGET_CONTEXT: target, **unstaged})),
        "CDK_VALIDATION": os.environ.get("CDK_VALIDATION", "false"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # The app's `python3` is this interpreter's, as `make` puts the venv first for the CDK CLI.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    subprocess.run(shlex.split(command), env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    if not staged:  # CDK's own handlers and Source.data were temporary folders of that process
        restage_lost_assets(outdir, lambda into: synthesize(target, into, app=command, staged=True))
    return outdir


def stack_named(assembly: str, target: str) -> str:
    """The stack called ``target``, or whose name is the pattern id in CamelCase plus ``Stack``."""
    manifest = json.loads((Path(assembly) / "manifest.json").read_text())
    stacks = [
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    wanted = _folded(target)
    for name in stacks:
        if wanted in {_folded(name), _folded(name.removesuffix("Stack"))}:
            return name
    raise LookupError(
        f"no stack {target!r} in the app; its stacks are: {', '.join(sorted(stacks)) or 'none'}"
    )


def served_artifact(assembly: str, target: str, pairs: list[str]):
    """The stack ``target`` names and its parameters; for several comma-separated targets, the
    stacks side by side in one artifact (:mod:`localcloud.core.stacks`), each parameter given as
    ``STACK.NAME=VALUE`` (``HostingMicroservicesOrdersStack.MountOnDomain=api.example.com``)."""
    from localcloud.core.assembly import load_stack
    from localcloud.core.stacks import merged, merged_parameters

    names = [stack_named(assembly, part.strip()) for part in target.split(",")]
    if len(names) == 1:
        return load_stack(assembly, names[0]), _parameters(pairs)
    by_stack: dict[str, dict[str, str]] = {}
    for name, value in _parameters(pairs).items():
        stack, dot, parameter = name.rpartition(".")
        if not dot or stack not in names:
            raise LookupError(f"--parameter {name}: name it STACK.NAME, STACK one of {', '.join(names)}")
        by_stack.setdefault(stack, {})[parameter] = value
    return merged(assembly, names), merged_parameters(by_stack)


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LookupError(f"--parameter {pair!r}: write it as NAME=VALUE")
        parameters[name] = value
    return parameters


def _folded(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _app_command() -> str:
    config = Path("cdk.json")
    if not config.is_file():
        raise LookupError("no cdk.json here: run from the app's folder, or pass --app or --assembly")
    return json.loads(config.read_text())["app"]


def secret_lines(cloud) -> list[str]:
    """``<logical id> <ARN>: <value>`` for each Secrets Manager secret of the stack."""
    client = cloud.client("secretsmanager")
    lines = []
    for logical_id, resource in cloud.artifact.template.get("Resources", {}).items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            arn = cloud.physical_id(logical_id)
            lines.append(f"{logical_id} {arn}: {client.get_secret_value(SecretId=arn)['SecretString']}")
    return lines


def _printer(console, server=None, args: argparse.Namespace | None = None):
    """What the server calls after each request: the request and its trace lines, on ``console``
    (stdout, while what the stack prints goes elsewhere: :mod:`localcloud.console`); and, with
    ``--report``, the report page rewritten."""
    written = [0.0]

    def print_request(request, response, trace_lines: list[str]) -> None:
        # The page first: once a request's lines show, the page has them (past REPORT_EVERY_SPANS
        # spans, at most once a second: rendering it costs more as the trace grows).
        trace = server.cloud.trace if server is not None else None
        fresh = trace is not None and len(trace.spans) <= REPORT_EVERY_SPANS
        if args is not None and args.report and (fresh or time.monotonic() - written[0] >= 1):
            written[0] = time.monotonic()
            write_report(args.report, server.cloud.stack_name, server.cloud.trace)
        if request is not None:
            from localcloud.aws_endpoint.door import aws_call_name

            call = aws_call_name(request)
            print(f"{call or f'{request.method} {request.path}'} -> {response.status}", file=console)
            if call is not None and server is not None:
                hint = _misdirected(server, request)
                if hint:
                    print(f"    {hint}", file=console)
        for line in trace_lines:
            print(f"    {line}", file=console)
        console.flush()

    return print_request


def _misdirected(server, request) -> str | None:
    """What to do when an AWS API call reached an API's port: the API answers as API Gateway
    would (403 Missing Authentication Token), which does not say the port is the wrong one."""
    port = (request.header("Host") or "").rpartition(":")[2]
    doors = {door.url.split(":")[2].split("/")[0]: door for door in server.front_doors}
    door = doors.get(port)
    if door is None or door.kind == "aws":
        return None
    aws = [other.url for other in server.front_doors if other.kind == "aws"]
    where = f"the AWS API is at {aws[0]}" if aws else "serve with --aws-port PORT to serve the AWS API"
    return f"an AWS API call sent to the port of {door.kind} {door.url}: {where} (aws --endpoint-url)"


if __name__ == "__main__":
    sys.exit(main())
