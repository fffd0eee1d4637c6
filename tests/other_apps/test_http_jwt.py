"""The notes HTTP API (a plain CDK ``HttpApi`` whose default authorizer is a Cognito user pool's
JWT authorizer, with a Lambda integration and CORS) provisions and behaves: a user signs up,
confirms, signs in with SRP (pycognito) and calls the API with the ID token, in-process and through
``serve`` with a real HTTP client; no token or a bad one is 401, the open route needs none."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from pycognito.aws_srp import AWSSRP

from localcloud.server import LocalServer
from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud

STACK = "HttpJwtNotes"
PASSWORD = "Correct-horse-9"
UNAUTHORIZED = {"message": "Unauthorized"}


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, STACK) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(cloud) -> dict:
    idp, client_id = cloud.client("cognito-idp"), cloud.outputs["ClientId"]
    attributes = [{"Name": "email", "Value": "ada@example.com"}]
    idp.sign_up(ClientId=client_id, Username="ada", Password=PASSWORD, UserAttributes=attributes)
    code = cloud.service("cognito-idp").confirmation_code("ada")
    idp.confirm_sign_up(ClientId=client_id, Username="ada", ConfirmationCode=code)
    srp = AWSSRP("ada", PASSWORD, cloud.outputs["UserPoolId"], client_id, client=idp)
    return srp.authenticate_user()["AuthenticationResult"]


def test_a_signed_in_user_calls_the_api_with_the_id_token(cloud, tokens):
    api = cloud.http_api()
    assert api.url == cloud.outputs["ApiUrl"]
    me = api.get("/me", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert me.status_code == 200, me.text
    assert me.json() == {"username": "ada", "email": "ada@example.com", "token_use": "id"}
    created = api.post("/notes", json={"text": "buy milk"}, headers={"Authorization": tokens["IdToken"]})
    assert (created.status_code, created.json()) == (201, {"author": "ada", "text": "buy milk"})


@pytest.mark.parametrize("authorization", [None, "not-a-token", "Bearer eyJhbGciOiJub25lIn0.e30."])
def test_no_token_or_a_bad_one_is_401_and_the_open_route_needs_none(cloud, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = cloud.http_api().get("/me", headers=headers)
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    assert cloud.http_api().get("/health", headers=headers).json() == {"ok": True}


def test_served_it_answers_a_real_http_client_and_the_browser_preflight(cloud, tokens):
    with LocalServer(cloud, real_time=False) as server:
        server.start()
        [door] = [d for d in server.front_doors if d.kind == "http-api"]
        parts = urlsplit(door.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            connection.request("GET", "/me", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
            served = connection.getresponse()
            assert served.status == 200 and json.loads(served.read())["username"] == "ada"
            connection.request("GET", "/me")
            refused = connection.getresponse()
            assert (refused.status, json.loads(refused.read())) == (401, UNAUTHORIZED)
            preflight = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
            connection.request("OPTIONS", "/notes", headers=preflight)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 204
            assert answer.getheader("access-control-allow-origin") == "http://localhost:5173"
        finally:
            connection.close()
