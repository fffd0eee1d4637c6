"""``AWS_IAM`` methods of a REST API: the caller's SigV4 signature is verified against the keys STS
issued it, on the virtual clock, then its role's policy and the API's resource policy decide
``execute-api:Invoke`` on the method ARN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.lib.http import HttpResponse
from localcloud.server import LocalServer
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

MISSING = {"message": "Missing Authentication Token"}
INVALID_TOKEN = {"message": "The security token included in the request is invalid."}


def build(stack: Stack) -> None:
    proxy = apigw.LambdaIntegration(python_function(stack, "Echo", "apigw_echo"))
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    outsider = iam.Role(stack, "Outsider", assumed_by=iam.AccountRootPrincipal())
    api = apigw.RestApi(
        stack,
        "Api",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(stage_name="prod"),
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    principals=[iam.ArnPrincipal(outsider.role_arn)],
                    actions=["execute-api:Invoke"],
                    resources=["execute-api:/prod/GET/shared"],
                ),
                iam.PolicyStatement(
                    principals=[iam.AccountRootPrincipal()],
                    actions=["execute-api:Invoke"],
                    resources=["execute-api:/prod/GET/team"],
                ),
                iam.PolicyStatement(
                    principals=[
                        iam.ArnPrincipal(
                            Fn.sub(
                                "arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/${R}/tester",
                                {"R": outsider.role_name},
                            )
                        )
                    ],
                    actions=["execute-api:Invoke"],
                    resources=["execute-api:/prod/GET/session"],
                ),
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["execute-api:Invoke"],
                    resources=["execute-api:/prod/*/items"],
                    conditions={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                ),
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    principals=[iam.ArnPrincipal(reader.role_arn)],
                    actions=["execute-api:Invoke"],
                    resources=["execute-api:/prod/GET/blocked"],
                ),
            ]
        ),
    )
    items = api.root.add_resource("items")
    for method in ("GET", "POST"):
        items.add_method(method, proxy, authorization_type=apigw.AuthorizationType.IAM)
    for path in ("admin", "shared", "blocked", "team", "session"):
        api.root.add_resource(path).add_method("GET", proxy, authorization_type=apigw.AuthorizationType.IAM)
    reader.add_to_policy(
        iam.PolicyStatement(
            actions=["execute-api:Invoke"],
            resources=[
                api.arn_for_execute_api("*", "/items", "prod"),
                api.arn_for_execute_api("GET", "/blocked", "prod"),
            ],
        )
    )


@pytest.fixture(scope="module")
def cloud(synth) -> Iterator[LocalCloud]:
    running = LocalCloud(synth("ApiIam", build), start=FIXED_START)
    running.start()
    yield running
    running.stop()


def keys(cloud: LocalCloud, role: str, session: str = "tester") -> Credentials:
    arn = cloud.client("iam").get_role(RoleName=cloud.physical_id(role))["Role"]["Arn"]
    issued = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


@pytest.fixture(scope="module")
def reader(cloud) -> Credentials:
    return keys(cloud, "Reader")


@pytest.fixture(scope="module")
def outsider(cloud) -> Credentials:
    return keys(cloud, "Outsider")


def send(
    cloud: LocalCloud,
    credentials: Credentials | None,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    presign: bool = False,
    tamper: dict[str, Any] | None = None,
    source_ip: str | None = None,
) -> HttpResponse:
    """A request signed by botocore's signer as a client would sign it, sent to the stage."""
    client = cloud.api()
    request = AWSRequest(method=method, url=f"{client.url.rstrip('/')}{path}", data=body)
    if credentials is not None:
        signer = SigV4QueryAuth(credentials, "execute-api", cloud.region, expires=60) if presign else None
        (signer or SigV4Auth(credentials, "execute-api", cloud.region)).add_auth(request)
    relative = request.url.split(f"/{client.stage}", 1)[1]
    headers = dict(request.headers.items())
    headers.update((tamper or {}).get("headers", {}))
    return client.request(
        method, relative, body=(tamper or {}).get("body", body), headers=headers, source_ip=source_ip
    )


def test_a_signed_request_of_an_allowed_role_reaches_the_function_as_that_caller(cloud, reader):
    response = send(cloud, reader, "POST", "/items?kind=a", b'{"id": "1"}')
    assert response.status == 200, response.text
    identity = response.json()["event"]["requestContext"]["identity"]
    assert identity["userArn"].endswith(f"assumed-role/{cloud.physical_id('Reader')}/tester")
    assert identity["accessKey"] == reader.access_key
    assert identity["accountId"] == cloud.account
    assert identity["user"].endswith(":tester")


def test_a_presigned_url_is_accepted(cloud, reader):
    response = send(cloud, reader, "GET", "/items?page=2", presign=True)
    assert response.status == 200, response.text


def test_an_unsigned_request_is_missing_its_token(cloud):
    response = send(cloud, None, "GET", "/items")
    assert (response.status, response.json()) == (403, MISSING)


def test_a_tampered_body_does_not_match_the_signature(cloud, reader):
    response = send(cloud, reader, "POST", "/items", b'{"id": "1"}', tamper={"body": b'{"id": "2"}'})
    assert response.status == 403
    assert response.json()["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert response.header("x-amzn-ErrorType") == "InvalidSignatureException"


def test_keys_sts_never_issued_and_a_missing_session_token_are_invalid(cloud, reader):
    forged = Credentials("ASIAFORGED0000000000", "secret", "token")
    assert send(cloud, forged, "GET", "/items").json() == INVALID_TOKEN
    without_token = Credentials(reader.access_key, reader.secret_key)
    response = send(cloud, without_token, "GET", "/items")
    assert (response.status, response.json()) == (403, INVALID_TOKEN)


def test_a_signature_older_than_five_minutes_on_the_virtual_clock_is_expired(cloud, reader):
    client = cloud.api()
    request = AWSRequest(method="GET", url=f"{client.url}items")
    SigV4Auth(reader, "execute-api", cloud.region).add_auth(request)
    cloud.advance(301)
    response = client.get("/items", headers=dict(request.headers.items()))
    assert response.status == 403
    assert response.json()["message"].startswith("Signature expired: ")
    assert "(20" in response.json()["message"] and "- 5 min.)" in response.json()["message"]


def test_a_role_whose_policy_does_not_allow_the_method_is_refused_naming_it(cloud, reader):
    response = send(cloud, reader, "GET", "/admin")
    assert response.status == 403
    message = response.json()["Message"]
    assert message.startswith(f"User: arn:aws:sts::{cloud.account}:assumed-role/")
    assert message.endswith(
        "is not authorized to perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:{cloud.region}:********9012:{cloud.api().api_id}/prod/GET/admin "
        "because no identity-based policy allows the execute-api:Invoke action"
    )


def test_the_resource_policy_allows_a_role_its_own_policy_does_not(cloud, outsider):
    assert send(cloud, outsider, "GET", "/shared").status == 200
    assert send(cloud, outsider, "GET", "/items").status == 403


def test_an_allow_naming_the_account_grants_only_what_the_roles_own_policy_allows(cloud, outsider):
    """IAM's "AWS account principals": naming the account delegates to its identity policies."""
    response = send(cloud, outsider, "GET", "/team")
    assert response.status == 403
    assert response.json()["Message"].endswith(
        "/prod/GET/team because no identity-based policy allows the execute-api:Invoke action"
    )


def test_an_allow_naming_the_callers_session_grants_that_session_only(cloud, outsider):
    assert send(cloud, outsider, "GET", "/session").status == 200
    other = keys(cloud, "Outsider", session="another")
    assert send(cloud, other, "GET", "/session").status == 403


def test_an_explicit_deny_in_the_resource_policy_wins_over_the_roles_allow(cloud, reader):
    response = send(cloud, reader, "GET", "/blocked")
    assert response.status == 403
    assert response.json()["Message"].endswith("with an explicit deny in a resource-based policy")


def test_a_resource_policy_deny_for_everyone_names_the_signed_caller(cloud, reader):
    response = send(cloud, reader, "GET", "/items", source_ip="10.1.2.3")
    assert response.status == 403
    message = response.json()["Message"]
    assert message.startswith(f"User: arn:aws:sts::{cloud.account}:assumed-role/")
    assert message.endswith("/prod/GET/items with an explicit deny in a resource-based policy")
    assert send(cloud, None, "GET", "/items", source_ip="10.1.2.3").json() == MISSING


def test_keys_of_a_session_past_its_duration_are_expired(cloud):
    arn = cloud.client("iam").get_role(RoleName=cloud.physical_id("Reader"))["Role"]["Arn"]
    issued = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName="brief", DurationSeconds=900)
    credentials = Credentials(
        *(issued["Credentials"][k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
    )
    assert send(cloud, credentials, "GET", "/items").status == 200
    cloud.advance(901)
    response = send(cloud, credentials, "GET", "/items")
    assert (response.status, response.json()) == (
        403,
        {"message": "The security token included in the request is expired"},
    )


def test_under_serve_a_signed_real_http_request_is_verified_with_the_served_host(cloud, reader):
    """What a user does under ``serve``: sign for the served address, send it with a real client."""
    import http.client
    from urllib.parse import urlsplit

    with LocalServer(cloud, port=0, real_time=False) as server:
        server.start()
        api = next(d for d in server.front_doors if d.kind == "api")
        url = f"{api.url.rstrip('/')}/items?from=curl"  # the door's URL names the stage
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(reader, "execute-api", cloud.region).add_auth(request)
        parts = urlsplit(url)

        def get(headers: dict[str, str]) -> tuple[int, Any]:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                connection.request("GET", f"{parts.path}?{parts.query}", headers=headers)
                response = connection.getresponse()
                return response.status, json.loads(response.read())
            finally:
                connection.close()

        status, answer = get(dict(request.headers.items()))
        assert status == 200, answer
        assert answer["event"]["requestContext"]["identity"]["accessKey"] == reader.access_key
        tampered = {**dict(request.headers.items()), "X-Amz-Date": "20260101T000000Z"}
        assert get(tampered)[0] == 403
