"""Every line ``serve`` prints under ``Try:`` works as printed, for every registered stack.

The lines are made as ``serve`` makes them, for the doors a :class:`LocalServer` opens (never
started: no thread, no sockets read), and replayed in order through those same doors in-process: a
curl line as curl would send it (``$TOKEN`` expanded as the shell would), an AWS CLI line as the
CLI would call the operation, signed, through the AWS endpoint (each kind of AWS line once, and
every invocation whose payload a stack's output describes); a stack with no API or distribution is
refused by serve unless the AWS endpoint is given, and then its AWS lines are replayed. One fresh
cloud per stack, started at the real time as ``serve`` starts it. A line that has the shell compute
before curl runs (a signed webhook: ``TS=$(date +%s); SIG=$(... | openssl dgst ...); curl ...``)
is run by bash, with ``curl`` a function that hands its arguments back; no other subprocess.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from urllib.parse import parse_qsl, urlsplit

import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from localcloud.aws_endpoint.door import aws_door
from localcloud.lib.http import HttpRequest
from localcloud.server import LocalServer, NothingToServe
from localcloud.try_lines import EXAMPLE, TOKEN_VARIABLE, door_lines, output_lines
from patterns.registry import PATTERNS
from scenarios import stack_parameters

pytestmark = pytest.mark.e2e

#: Front-door resource types: a stack with none is not served, so prints no line.
SERVED = {"AWS::ApiGateway::RestApi", "AWS::CloudFront::Distribution"}
#: A shell function standing in for curl: its arguments, each ended by a NUL, on stdout.
CURL_ARGUMENTS = 'curl() { printf "%s\\0" curl "$@"; }\n'
#: The kinds of AWS CLI line (``sqs send-message``...) replayed so far: one template makes each
#: kind for every stack, so each is replayed once in the module (and every invocation with a payload
#: from the stack's outputs).
_REPLAYED: set[str] = set()
#: One session for every client: its service models load once.
_SESSION = botocore.session.get_session()
STACKS = [
    pytest.param(pattern.id, stack_name, id=stack_name)
    for pattern in PATTERNS
    for variant, stack_name in pattern.stacks()
]


@pytest.mark.parametrize(("pattern_id", "stack_name"), STACKS)
def test_every_printed_line_works(cloud_assembly, run, pattern_id, stack_name):
    from localcloud.core.assembly import load_stack

    artifact = load_stack(cloud_assembly.directory, stack_name)
    served = bool(SERVED & {r["Type"] for r in artifact.template["Resources"].values()})
    with stack_parameters(pattern_id) as parameters:
        cloud = run(artifact, parameters=parameters, start=None)
        if not served:
            # Without an API or a distribution, serve refuses the stack unless --aws-port gives it
            # the AWS endpoint, whose lines are then all it prints.
            with pytest.raises(NothingToServe, match="drive it from Python instead"):
                LocalServer(cloud, real_time=False)
        with LocalServer(cloud, real_time=False, extra_doors=[aws_door(0)]) as server:
            doors = {door.kind: door for door in server.front_doors}
            lines = [line for door in server.front_doors for line in door_lines(cloud, door)]
            aws = [line for line in lines if " aws --endpoint-url " in f" {line}"]
            shell = {TOKEN_VARIABLE: ""}
            for line in aws:
                kind = " ".join(shlex.split(line.rpartition("| ")[2])[5:7])
                described = line.startswith("printf") and not line.startswith("printf '%s' '{}'")
                if kind in _REPLAYED and not described:
                    continue
                _REPLAYED.add(kind)
                answer = replay_aws(doors["aws"], line)
                token = json.loads(answer.get("Payload", b"{}") or b"{}").get("token")
                shell[TOKEN_VARIABLE] = token or shell[TOKEN_VARIABLE]
            if not shell[TOKEN_VARIABLE] and "cognito" in doors:
                shell[TOKEN_VARIABLE] = cognito_token(doors["cognito"], cloud)
            answers, guarded = {}, set()
            for line in lines:
                if line.startswith("curl ") or (" curl -i " in line and not line.startswith("#")):
                    words = curl_words(line, shell)
                    url = next(word for word in words if word.startswith("http"))
                    door = next(d for d in server.front_doors if url.startswith(d.url.rstrip("/")))
                    request = curl_request(words)
                    answers[f"{request.method} {request.path}"] = door.dispatch(request)
                    if door.kind == "api" and door.resource_id in guarded_apis(cloud):
                        guarded.add(f"{request.method} {request.path}")
    if not served:
        assert not answers and aws, f"{stack_name} has only the AWS endpoint to print lines for"
        return
    assert answers, f"{stack_name} is served but prints no curl line"
    if any(f"${TOKEN_VARIABLE}" in line for line in lines):
        assert shell[TOKEN_VARIABLE], "a route needs a token, and a printed line gets one"
        assert any("token" in line for line in output_lines(cloud)), "the outputs say how to get a token"
    for call, answer in answers.items():
        body = answer.body.decode(errors="replace")
        found_nothing = answer.status == 404 and EXAMPLE in body
        refused_direct = answer.status == 403 and call in guarded
        assert answer.status < 400 or found_nothing or refused_direct, f"{call}: {answer.status} {body[:300]}"


def guarded_apis(cloud) -> set[str]:
    """APIs a distribution calls with a custom origin header (a secret the API checks): a line calling
    one directly is refused by design, and its distribution's line is the one to use."""
    if not cloud.kernel.has_service("cloudfront"):
        return set()
    return {
        origin.api_id
        for distribution in cloud.cloudfront.distributions()
        for behavior in distribution.behaviors
        for origin in getattr(behavior.target, "members", [behavior.target])
        if origin.api_id and origin.custom_headers
    }


def cognito_token(door, cloud) -> str:
    """An ID token as a person gets one from a page that signs in with Cognito (the outputs say
    where the page keeps it): signed up, confirmed and signed in with SRP through the served
    Cognito door, with the stack's public app client."""
    from pycognito.aws_srp import AWSSRP

    admin = cloud.client("cognito-idp")
    [pool] = admin.list_user_pools(MaxResults=10)["UserPools"]
    [client] = admin.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
    idp = _SESSION.create_client(
        "cognito-idp", region_name=cloud.region, config=Config(signature_version=UNSIGNED)
    )
    idp.meta.events.register_first("before-send", lambda request, **_: _dispatched(door, request))
    user, password = "try@example.com", "Correct-horse-battery-staple-9"
    idp.sign_up(
        ClientId=client["ClientId"],
        Username=user,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": user}],
    )
    code = cloud.service("cognito-idp").confirmation_code(user)
    idp.confirm_sign_up(ClientId=client["ClientId"], Username=user, ConfirmationCode=code)
    signed_in = AWSSRP(user, password, pool["Id"], client["ClientId"], client=idp).authenticate_user()
    return signed_in["AuthenticationResult"]["IdToken"]


def curl_words(line: str, shell: dict[str, str]) -> list[str]:
    """curl's arguments for ``line``, after the shell's word splitting: a plain curl line split here
    (``$VAR`` only inside double quotes, the one place those lines use it), a line that computes
    first run by bash with ``shell``'s variables set."""
    if not line.startswith("curl "):
        done = subprocess.run(  # noqa: S603 - the line serve prints, run as a person would paste it
            ["bash", "-c", CURL_ARGUMENTS + line],  # noqa: S607 - bash and openssl from PATH, as in a shell
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", **shell},
            capture_output=True,
            # No timeout: under the cloud's frozen clock, subprocess would measure it with a clock
            # that is real or virtual depending on the depth of the call stack.
            check=True,
        )
        assert not done.stderr, done.stderr.decode()
        return done.stdout.decode().split("\0")[:-1]
    words = shlex.split(line, posix=True)
    for index, word in enumerate(words):
        for name, value in shell.items():
            word = word.replace(f"${name}", value)
        words[index] = word
    return words


def curl_request(words: list[str]) -> HttpRequest:
    """The request curl sends with the arguments ``words``: its ``-X``, ``-H`` and ``-d``."""
    line = shlex.join(words)
    assert words[:2] == ["curl", "-i"], line
    method, headers, body, url = "GET", {}, b"", None
    rest = iter(words[2:])
    for word in rest:
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(":")
            headers.setdefault(name.strip(), []).append(value.strip())
        elif word == "-d":
            body = next(rest).encode()
            method = method if method != "GET" else "POST"
        else:
            url = word
    assert url is not None, line
    assert not set("{}[]") & set(url), f"curl expands braces and brackets in a URL as globs: {line}"
    parts = urlsplit(url)
    return HttpRequest(method, parts.path, headers, {}, body)


def replay_aws(door, line: str) -> dict:
    """Call the operation an ``aws --endpoint-url URL --region R <service> <command> ...`` line
    names, with its options as the CLI maps them (JSON for structures and lists, a blob from
    ``fileb:///dev/stdin``, which a leading ``printf '%s' '...' |`` feeds), signed, through the AWS
    endpoint."""
    words = shlex.split(line)
    stdin = b""
    if words[0] == "printf":
        assert words[1] == "%s" and words[3] == "|", line
        stdin, words = words[2].encode(), words[4:]
    settings = dict(word.split("=", 1) for word in words[: words.index("aws")])
    words = words[words.index("aws") :]
    assert set(settings) <= {"AWS_DISABLE_HOST_PREFIX_INJECTION"}, line
    assert words[:2] == ["aws", "--endpoint-url"] and words[3] == "--region", line
    url, region, service, command = words[2], words[4], words[5], words[6]
    client = _SESSION.create_client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(inject_host_prefix=settings.get("AWS_DISABLE_HOST_PREFIX_INJECTION") != "true"),
    )
    operation = client.meta.service_model.operation_model(
        next(name for name in client.meta.service_model.operation_names if _folded(name) == _folded(command))
    )
    members = {_folded(name): (name, shape) for name, shape in operation.input_shape.members.items()}
    params, rest = {}, iter(words[7:])
    for word in rest:
        if word.startswith("--"):
            name, shape = members[_folded(word)]
            value = next(rest)
            kind = shape.type_name
            params[name] = json.loads(value) if kind in {"structure", "list", "map"} else value
            if kind == "blob":
                assert value == "fileb:///dev/stdin", "a blob as v1 and v2 of the CLI read it alike"
                params[name] = stdin

    def send(request, **_) -> AWSResponse:
        # A host the SDK prefixed (sync-127.0.0.1 for StartSyncExecution) resolves nowhere.
        sent_to = urlsplit(request.url).netloc
        assert sent_to == urlsplit(url).netloc, f"{line}: sent to {sent_to}, which does not resolve"
        return _dispatched(door, request)

    client.meta.events.register("before-send", send)
    answer = getattr(client, _snake(operation.name))(**params)
    if "Payload" in answer:
        answer["Payload"] = answer["Payload"].read()
    return answer


def _dispatched(door, prepared) -> AWSResponse:
    parts = urlsplit(prepared.url)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    headers = {
        name: [value.decode() if isinstance(value, bytes) else value]
        for name, value in prepared.headers.items()
    }
    body = prepared.body or b""
    request = HttpRequest(
        prepared.method, parts.path or "/", headers, query, body if isinstance(body, bytes) else body.encode()
    )
    answer = door.dispatch(request)
    flat = {name: ", ".join(values) for name, values in answer.headers.items()}
    raw = _Raw(answer.body)
    return AWSResponse(prepared.url, answer.status, flat, raw)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body

    def read(self, *_):
        body, self._body = self._body, b""
        return body


def _folded(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def _snake(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)
