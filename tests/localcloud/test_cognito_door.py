"""Cognito's public endpoint as a served front door, for pages that sign in from the browser:
unsigned operations answered in Cognito's JSON protocol with the local cloud's checks (real SRP),
signed ones and those AWS never takes unsigned refused, CORS as a browser needs it; and a served
distribution's answers pointed at the door (:mod:`localcloud.core.served_urls`)."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk import aws_cognito as cognito
from botocore import UNSIGNED
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.front_doors import FrontDoor
from localcloud.core.served_urls import rewritten
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.server import LocalServer
from localcloud.services.cognito.door import answer, endpoint_url
from patterns.stack import SYNTH_METADATA

pytestmark = pytest.mark.localcloud
PASSWORD = "Correct-horse-9"
TARGET = "AWSCognitoIdentityProviderService."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("cdk-cognito-door")
    app = App(outdir=str(outdir), context=SYNTH_METADATA, builtin_cloud_formation_validation=False)
    stack = Stack(app, "CognitoDoorStack")
    pool = cognito.UserPool(
        stack, "Users", self_sign_up_enabled=True, auto_verify=cognito.AutoVerifiedAttrs(email=True)
    )
    CfnOutput(stack, "PoolId", value=pool.user_pool_id)
    CfnOutput(
        stack,
        "ClientId",
        value=pool.add_client("Page", auth_flows=cognito.AuthFlow(user_srp=True)).user_pool_client_id,
    )
    app.synth()
    with (
        LocalCloud(load_stack(outdir, "CognitoDoorStack")) as cloud,
        LocalServer(cloud, real_time=False) as served,
    ):
        served.start()
        yield served


def door_url(server: LocalServer) -> str:
    [door] = [d for d in server.front_doors if d.kind == "cognito"]
    assert (
        door.stands_for == endpoint_url(server.cloud.region) == "https://cognito-idp.us-east-1.amazonaws.com"
    )
    return door.url


def call(server: LocalServer, operation: str, params: dict, **headers: str) -> HttpResponse:
    request = HttpRequest(
        "POST",
        "/",
        {"X-Amz-Target": [TARGET + operation], "Content-Type": ["application/x-amz-json-1.1"]}
        | {name.replace("_", "-"): [value] for name, value in headers.items()},
        body=json.dumps(params).encode(),
    )
    return server.using_cloud(lambda: answer(server.cloud.kernel, request))


def test_an_unsigned_client_signs_up_confirms_and_signs_in_with_srp_over_http(server):
    """What the browser library does, by an SDK client that signs nothing, through the door."""
    cloud = server.cloud
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=door_url(server),
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    client = cloud.outputs["ClientId"]
    idp.sign_up(
        ClientId=client,
        Username="ann",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
    )
    code = server.using_cloud(lambda: cloud.service("cognito-idp").confirmation_code("ann"))
    idp.confirm_sign_up(ClientId=client, Username="ann", ConfirmationCode=code)
    tokens = AWSSRP("ann", PASSWORD, cloud.outputs["PoolId"], client, client=idp).authenticate_user()
    assert tokens["AuthenticationResult"]["IdToken"].count(".") == 2, "real SRP, as test_cognito.py checks"
    weak = call(server, "SignUp", {"ClientId": client, "Username": "bob", "Password": "short"})
    assert (weak.status, weak.json()["__type"]) == (400, "InvalidPasswordException"), "the pool's policy"


def test_signed_calls_and_operations_aws_never_takes_unsigned_are_refused(server):
    pool = server.cloud.outputs["PoolId"]
    admin = call(server, "AdminDeleteUser", {"UserPoolId": pool, "Username": "ann"})
    assert (admin.status, admin.json()["__type"]) == (403, "MissingAuthenticationTokenException")
    signed = call(
        server,
        "AdminDeleteUser",
        {"UserPoolId": pool, "Username": "ann"},
        Authorization="AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/cognito-idp/aws4_request",
    )
    assert (signed.status, signed.json()["__type"]) == (403, "NotAuthorizedException")
    assert "serve --aws-port" in signed.json()["message"], "signed calls are the AWS endpoint's, as an admin"
    other = call(server, "ListQueues", {})
    assert other.status == 403, "an unknown target is no unsigned operation"
    assert server.using_cloud(
        lambda: server.cloud.client("cognito-idp").admin_get_user(UserPoolId=pool, Username="ann")
    )


def test_cors_lets_a_page_of_any_origin_post_the_sdks_headers_but_never_credentials(server):
    def preflight(method: str, headers: str) -> HttpResponse:
        request = HttpRequest(
            "OPTIONS",
            "/",
            {
                "Origin": ["http://127.0.0.1:4580"],
                "Access-Control-Request-Method": [method],
                "Access-Control-Request-Headers": [headers],
            },
        )
        return server.using_cloud(lambda: answer(server.cloud.kernel, request))

    allowed = preflight("POST", "content-type,x-amz-target,x-amz-user-agent")
    assert allowed.status == 200
    assert allowed.header("Access-Control-Allow-Origin") == "*"
    assert allowed.header("Access-Control-Allow-Headers") == "content-type, x-amz-target, x-amz-user-agent"
    assert allowed.header("Access-Control-Allow-Methods") == "POST"
    assert preflight("POST", "authorization,x-amz-target").status == 403
    assert preflight("POST", "x-amz-security-token").status == 403
    assert preflight("DELETE", "content-type").status == 403
    answered = call(server, "SignUp", {"ClientId": "nope", "Username": "x", "Password": PASSWORD})
    assert answered.header("Access-Control-Allow-Origin") == "*", "errors too, so the page can read them"
    assert answered.json()["__type"] == "ResourceNotFoundException"


def test_a_served_distributions_answers_name_the_door_other_doors_answers_stay():
    cognito = FrontDoor(
        "cognito",
        "c",
        "http://127.0.0.1:4582/",
        lambda r: None,
        "cognito-idp",
        stands_for="https://cognito-idp.us-east-1.amazonaws.com",
    )
    site = FrontDoor("distribution", "d", "http://127.0.0.1:4580/", lambda r: None, "E1")
    api = FrontDoor("api", "a", "http://127.0.0.1:4581/prod/", lambda r: None, "a1")
    aws = "https://cognito-idp.us-east-1.amazonaws.com"

    def served(door: FrontDoor, content_type: str) -> HttpResponse:
        response = HttpResponse(
            200,
            {"Content-Type": [content_type], "Content-Security-Policy": [f"connect-src 'self' {aws}"]},
            json.dumps({"cognitoEndpoint": f"{aws}/"}).encode(),
        )
        return rewritten(door, response, [cognito, site, api])

    page = served(site, "application/json")
    assert page.header("Content-Security-Policy") == "connect-src 'self' http://127.0.0.1:4582"
    assert page.json() == {"cognitoEndpoint": "http://127.0.0.1:4582/"}
    image = served(site, "image/png")
    assert aws.encode() in image.body, "binary bodies are left alone"
    assert served(api, "application/json").json() == {"cognitoEndpoint": f"{aws}/"}, "only a distribution's"
