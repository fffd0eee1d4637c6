"""The members API (a plain CDK user pool with a hosted domain, an SRP and password client, a
group, and a REST API behind a Cognito authorizer) provisions and behaves: a user signs up, confirms
with the emailed code, signs in with SRP (pycognito), and calls the API with the group in the
authorizer's claims; no token or a bad one is 401. The same sign-up and SRP sign-in work from another
client through the served AWS endpoint (``serve --aws-port``), over the wire, unsigned as SDKs send
Cognito's user calls."""

from __future__ import annotations

import threading
import unittest.mock

import boto3
import botocore.handlers
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from localcloud.aws_endpoint.door import aws_door
from localcloud.server import LocalServer
from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud

STACK = "CognitoApiMembers"
PASSWORD = "Correct horse 9"


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, STACK) as running:
        yield running


def sign_up_and_confirm(idp, cloud, username: str) -> None:
    client_id = cloud.outputs["ClientId"]
    attributes = [{"Name": "email", "Value": f"{username}@example.com"}]
    idp.sign_up(ClientId=client_id, Username=username, Password=PASSWORD, UserAttributes=attributes)
    code = cloud.service("cognito-idp").confirmation_code(username)
    idp.confirm_sign_up(ClientId=client_id, Username=username, ConfirmationCode=code)


def srp_tokens(idp, cloud, username: str, password: str = PASSWORD) -> dict:
    srp = AWSSRP(username, password, cloud.outputs["UserPoolId"], cloud.outputs["ClientId"], client=idp)
    return srp.authenticate_user()["AuthenticationResult"]


def test_the_pool_its_hosted_domain_and_group_are_provisioned(cloud):
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    assert out["SignInUrl"].startswith(
        "https://members-demo.auth.us-east-1.amazoncognito.com/login?client_id="
    )
    domain = idp.describe_user_pool_domain(Domain="members-demo")["DomainDescription"]
    assert domain["UserPoolId"] == out["UserPoolId"]
    assert [g["GroupName"] for g in idp.list_groups(UserPoolId=out["UserPoolId"])["Groups"]] == ["admins"]
    assert out["ProviderUrl"] == f"https://cognito-idp.us-east-1.amazonaws.com/{out['UserPoolId']}"


def test_a_member_signs_up_signs_in_with_srp_and_the_api_sees_the_group(cloud):
    idp = cloud.client("cognito-idp")
    sign_up_and_confirm(idp, cloud, "ada")
    idp.admin_add_user_to_group(UserPoolId=cloud.outputs["UserPoolId"], Username="ada", GroupName="admins")
    tokens = srp_tokens(idp, cloud, "ada")
    answer = cloud.api().get("/me", headers={"Authorization": tokens["IdToken"]})
    assert answer.status_code == 200, answer.text
    claims = answer.json()["claims"]
    assert (claims["cognito:username"], claims["cognito:groups"]) == ("ada", "admins")
    assert (claims["email"], claims["email_verified"]) == ("ada@example.com", "true")
    with pytest.raises(ClientError, match="Incorrect username or password"):
        srp_tokens(idp, cloud, "ada", "Wrong horse 9")


@pytest.mark.parametrize("authorization", [None, "not-a-token", "Bearer eyJhbGciOiJub25lIn0.e30."])
def test_no_token_or_a_bad_one_is_401(cloud, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = cloud.api().get("/me", headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def outside_client(url: str):
    """A boto3 client of another process: none of moto's or the local cloud's botocore hooks."""
    outside = [
        hook
        for hook in botocore.handlers.BUILTIN_HANDLERS
        if not getattr(hook[1], "__module__", "").startswith(("localcloud", "moto"))
    ]
    with unittest.mock.patch.object(botocore.handlers, "BUILTIN_HANDLERS", outside):
        session = boto3.session.Session(
            aws_access_key_id="outside", aws_secret_access_key="outside", region_name="us-east-1"
        )
        return session.client("cognito-idp", endpoint_url=url, config=Config(retries={"max_attempts": 1}))


def test_sign_up_and_srp_sign_in_work_through_the_aws_endpoint(cloud):
    with LocalServer(cloud, real_time=False, extra_doors=[aws_door(0)]) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            idp = outside_client(server.front_doors[-1].url)
            sign_up_and_confirm(idp, cloud, "grace")
            tokens = srp_tokens(idp, cloud, "grace")
            with pytest.raises(ClientError, match="Incorrect username or password"):
                srp_tokens(idp, cloud, "grace", "Wrong horse 9")
            with pytest.raises(ClientError, match="UserNotFoundException"):
                srp_tokens(idp, cloud, "nobody")
        finally:
            server.shutdown()
            thread.join()
    answer = cloud.api().get("/me", headers={"Authorization": tokens["IdToken"]})
    assert answer.status_code == 200 and answer.json()["claims"]["cognito:username"] == "grace"
