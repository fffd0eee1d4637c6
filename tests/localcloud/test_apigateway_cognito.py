"""A Cognito user pool authorizer offline: tokens moto's user pool issues are checked for signature,
issuer, expiry on the virtual clock, app client and scopes.

The stack takes an existing pool by ARN (a parameter), as a stack whose users live elsewhere does.
moto names a pool reproducibly with ``MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH``, so the test
learns the ARN first, starts the cloud with it, then creates the pool and its users in the cloud.
"""

from __future__ import annotations

import boto3
import pytest
from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from moto import mock_aws

from localcloud import LocalCloud
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

POOL = "members"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
UNAUTHORIZED = {"message": "Unauthorized"}
PASSWORD = "Correct-horse-9"


def build(stack: Stack) -> None:
    pool_arn = CfnParameter(stack, "UserPoolArn")
    pool = cognito.UserPool.from_user_pool_arn(stack, "Members", pool_arn.value_as_string)
    authorizer = apigw.CognitoUserPoolsAuthorizer(stack, "Members Authorizer", cognito_user_pools=[pool])
    proxy = apigw.LambdaIntegration(python_function(stack, "Echo", "apigw_echo"))
    api = apigw.RestApi(
        stack, "Api", cloud_watch_role=False, deploy_options=apigw.StageOptions(stage_name="prod")
    )
    signed_in = {"authorizer": authorizer, "authorization_type": apigw.AuthorizationType.COGNITO}
    api.root.add_resource("profile").add_method("GET", proxy, **signed_in)
    api.root.add_resource("account").add_method("GET", proxy, authorization_scopes=[ADMIN_SCOPE], **signed_in)
    api.root.add_resource("billing").add_method(
        "GET", proxy, authorization_scopes=["billing/read"], **signed_in
    )


def sign_in(cloud: LocalCloud, pool_name: str, username: str) -> dict[str, str]:
    """A pool (or the one of that name), a user and an app client in moto; the user's tokens."""
    idp = cloud.client("cognito-idp")
    pools = [p["Id"] for p in idp.list_user_pools(MaxResults=10)["UserPools"] if p["Name"] == pool_name]
    pool_id = pools[0] if pools else idp.create_user_pool(PoolName=pool_name)["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword=PASSWORD)
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


@pytest.fixture
def cloud(synth, run, monkeypatch) -> LocalCloud:
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    with mock_aws():
        arn = boto3.client("cognito-idp", region_name="us-east-1").create_user_pool(PoolName=POOL)[
            "UserPool"
        ]["Arn"]
    cloud = run(synth("ApiCognito", build), parameters={"UserPoolArn": arn})
    assert cloud.client("cognito-idp").create_user_pool(PoolName=POOL)["UserPool"]["Arn"] == arn
    return cloud


def test_an_id_token_lets_the_user_in_with_its_claims(cloud):
    tokens = sign_in(cloud, POOL, "ada")
    response = cloud.api().get("/profile", headers={"Authorization": tokens["IdToken"]})
    assert response.status_code == 200, response.text
    claims = response.json()["event"]["requestContext"]["authorizer"]["claims"]
    assert (claims["cognito:username"], claims["token_use"]) == ("ada", "id")
    assert claims["iss"].endswith(
        f"/{cloud.client('cognito-idp').list_user_pools(MaxResults=5)['UserPools'][0]['Id']}"
    )
    bearer = cloud.api().get("/profile", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert bearer.status_code == 200


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_no_token_or_one_that_is_not_signed_by_the_pool_is_401(cloud, token):
    response = cloud.api().get("/profile", headers={"Authorization": token} if token is not None else {})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert cloud.trace.find("invoke") == []


def test_a_tampered_token_is_401(cloud):
    header, payload, signature = sign_in(cloud, POOL, "ada")["IdToken"].split(".")
    forged = f"{header}.{payload[:-4]}AAAA.{signature}"
    assert cloud.api().get("/profile", headers={"Authorization": forged}).status_code == 401


def test_a_token_of_another_pool_is_401(cloud):
    tokens = sign_in(cloud, "strangers", "mallory")
    response = cloud.api().get("/profile", headers={"Authorization": tokens["IdToken"]})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_token_expires_on_the_virtual_clock(cloud):
    tokens = sign_in(cloud, POOL, "ada")
    api, headers = cloud.api(), {"Authorization": tokens["IdToken"]}
    cloud.advance(tokens["ExpiresIn"] - 1)
    assert api.get("/profile", headers=headers).status_code == 200
    cloud.advance(1)
    assert api.get("/profile", headers=headers).status_code == 401


def test_scopes_need_an_access_token_that_carries_one_of_them(cloud):
    tokens = sign_in(cloud, POOL, "ada")
    api = cloud.api()
    assert api.get("/profile", headers={"Authorization": tokens["AccessToken"]}).status_code == 401, (
        "without scopes the method wants an ID token"
    )
    assert api.get("/account", headers={"Authorization": tokens["IdToken"]}).status_code == 401
    account = api.get("/account", headers={"Authorization": tokens["AccessToken"]})
    assert account.status_code == 200
    assert account.json()["event"]["requestContext"]["authorizer"]["claims"]["scope"] == ADMIN_SCOPE
    assert api.get("/billing", headers={"Authorization": tokens["AccessToken"]}).status_code == 401


def test_a_token_of_a_deleted_app_client_is_401(cloud):
    tokens = sign_in(cloud, POOL, "ada")
    idp = cloud.client("cognito-idp")
    pool_id = idp.list_user_pools(MaxResults=5)["UserPools"][0]["Id"]
    [client] = idp.list_user_pool_clients(UserPoolId=pool_id)["UserPoolClients"]
    idp.delete_user_pool_client(UserPoolId=pool_id, ClientId=client["ClientId"])
    assert cloud.api().get("/profile", headers={"Authorization": tokens["IdToken"]}).status_code == 401
