"""Cognito offline: pools from the template, sign-up with a confirmation code, sign-in with
USER_PASSWORD_AUTH and USER_SRP_AUTH (pycognito's SRP client), and every refusal AWS makes where moto
would let the user in: a wrong password on either flow, an unconfirmed user, a flow the client does
not enable, a missing or wrong SECRET_HASH, a password the policy refuses, a wrong or expired code,
sign-up on an admin-only pool. The tokens pass the REST API's Cognito authorizer with the groups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools

import pytest
from aws_cdk import App, CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.services.cognito import srp
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

PASSWORD = "Correct-horse-9"
_names = itertools.count()


def build(stack: Stack) -> None:
    pool = cognito.UserPool(
        stack,
        "Members",
        self_sign_up_enabled=True,
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        password_policy=cognito.PasswordPolicy(min_length=12),
    )
    for group in ("admins", "editors"):
        cognito.CfnUserPoolGroup(stack, group.title(), user_pool_id=pool.user_pool_id, group_name=group)
    pool.add_domain("Hosted", cognito_domain=cognito.CognitoDomainOptions(domain_prefix="members-test"))
    both = cognito.AuthFlow(user_srp=True, user_password=True)
    web = pool.add_client("Web", auth_flows=both)
    srp_only = pool.add_client("SrpOnly", auth_flows=cognito.AuthFlow(user_srp=True))
    password_only = pool.add_client("PasswordOnly", auth_flows=cognito.AuthFlow(user_password=True))
    default = pool.add_client("NoFlows")
    server = pool.add_client("Server", auth_flows=both, generate_secret=True)
    short = pool.add_client(
        "ShortLived",
        auth_flows=both,
        id_token_validity=Duration.minutes(5),
        access_token_validity=Duration.minutes(10),
    )
    closed = cognito.UserPool(stack, "Closed")
    closed_client = closed.add_client("Web", auth_flows=both)
    identities = cognito.CfnIdentityPool(
        stack,
        "Identities",
        allow_unauthenticated_identities=False,
        cognito_identity_providers=[
            cognito.CfnIdentityPool.CognitoIdentityProviderProperty(
                client_id=web.user_pool_client_id, provider_name=pool.user_pool_provider_name
            )
        ],
    )

    signer = python_function(
        stack,
        "Signer",
        "cognito_sign_in",
        environment={"CLIENT_ID": web.user_pool_client_id, "POOL_ID": pool.user_pool_id},
        timeout=Duration.seconds(10),
    )
    api = apigw.RestApi(
        stack, "Api", cloud_watch_role=False, deploy_options=apigw.StageOptions(stage_name="prod")
    )
    api.root.add_resource("me").add_method(
        "GET",
        apigw.LambdaIntegration(python_function(stack, "Echo", "apigw_echo")),
        authorizer=apigw.CognitoUserPoolsAuthorizer(stack, "Authorizer", cognito_user_pools=[pool]),
        authorization_type=apigw.AuthorizationType.COGNITO,
    )
    outputs = {
        "PoolId": pool.user_pool_id,
        "PoolArn": pool.user_pool_arn,
        "ProviderName": pool.user_pool_provider_name,
        "ProviderUrl": pool.user_pool_provider_url,
        "Web": web.user_pool_client_id,
        "SrpOnly": srp_only.user_pool_client_id,
        "PasswordOnly": password_only.user_pool_client_id,
        "NoFlows": default.user_pool_client_id,
        "Server": server.user_pool_client_id,
        "ShortLived": short.user_pool_client_id,
        "ServerSecret": server.node.default_child.attr_client_secret,
        "ClosedPool": closed.user_pool_id,
        "ClosedClient": closed_client.user_pool_client_id,
        "IdentityPool": identities.ref,
        "SignerName": signer.function_name,
    }
    for name, value in outputs.items():
        CfnOutput(stack, name, value=value)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    # The CDK's CloudFormation schema check would cost this module's stack about 15 s per session.
    outdir = tmp_path_factory.mktemp("cdk-cognito")
    app = App(outdir=str(outdir), context=SYNTH_METADATA, builtin_cloud_formation_validation=False)
    build(Stack(app, "CognitoStack"))
    app.synth()
    with LocalCloud(load_stack(outdir, "CognitoStack")) as running:
        yield running


def new_user(cloud: LocalCloud, *, confirm: bool = True, groups: tuple[str, ...] = ()) -> str:
    """A user signed up through the Web client (and confirmed with its code); its name."""
    name = f"user{next(_names)}"
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    idp.sign_up(
        ClientId=out["Web"],
        Username=name,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
    )
    if confirm:
        code = cloud.service("cognito-idp").confirmation_code(name)
        idp.confirm_sign_up(ClientId=out["Web"], Username=name, ConfirmationCode=code)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=out["PoolId"], Username=name, GroupName=group)
    return name


def password_sign_in(cloud: LocalCloud, client: str, name: str, password: str = PASSWORD, **extra) -> dict:
    params = {"USERNAME": name, "PASSWORD": password, **extra}
    answer = cloud.client("cognito-idp").initiate_auth(
        ClientId=cloud.outputs[client], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
    )
    return answer["AuthenticationResult"]


def srp_sign_in(cloud: LocalCloud, client: str, name: str, password: str = PASSWORD, secret=None) -> dict:
    srp = AWSSRP(
        name,
        password,
        cloud.outputs["PoolId"],
        cloud.outputs[client],
        client=cloud.client("cognito-idp"),
        client_secret=secret,
    )
    return srp.authenticate_user()["AuthenticationResult"]


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


# ---------------------------------------------------------------------------------------- provisioning


def test_the_template_s_pool_client_domain_groups_and_identity_pool_are_in_moto(cloud):
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    pool = idp.describe_user_pool(UserPoolId=out["PoolId"])["UserPool"]
    assert out["PoolArn"] == pool["Arn"]
    assert out["ProviderName"] == f"cognito-idp.us-east-1.amazonaws.com/{out['PoolId']}"
    assert out["ProviderUrl"] == f"https://{out['ProviderName']}"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert (
        idp.describe_user_pool_domain(Domain="members-test")["DomainDescription"]["UserPoolId"]
        == out["PoolId"]
    )
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=out["PoolId"])["Groups"]}
    assert groups == {"admins", "editors"}
    web = idp.describe_user_pool_client(UserPoolId=out["PoolId"], ClientId=out["Web"])["UserPoolClient"]
    assert set(web["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    server = idp.describe_user_pool_client(UserPoolId=out["PoolId"], ClientId=out["Server"])["UserPoolClient"]
    assert server["ClientSecret"] == out["ServerSecret"]
    identities = cloud.client("cognito-identity").describe_identity_pool(IdentityPoolId=out["IdentityPool"])
    assert identities["CognitoIdentityProviders"][0]["ClientId"] == out["Web"]


# ---------------------------------------------------------------------------------------- sign-up


def test_sign_up_sends_a_code_that_confirms_the_user_and_only_once(cloud):
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    answer = idp.sign_up(
        ClientId=out["Web"],
        Username="grace",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "grace@example.com"}],
    )
    assert answer["CodeDeliveryDetails"] == {
        "Destination": "g***@example.com",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    code = cloud.service("cognito-idp").confirmation_code("grace")
    assert code.isdigit() and len(code) == 6
    assert any(code in span.detail for span in cloud.trace.find("cognito")), "the trace shows the code"
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    confirm = idp.confirm_sign_up
    assert refusal(lambda: confirm(ClientId=out["Web"], Username="grace", ConfirmationCode=wrong))[0] == (
        "CodeMismatchException"
    )
    confirm(ClientId=out["Web"], Username="grace", ConfirmationCode=code)
    assert idp.admin_get_user(UserPoolId=out["PoolId"], Username="grace")["UserStatus"] == "CONFIRMED"
    assert refusal(lambda: confirm(ClientId=out["Web"], Username="grace", ConfirmationCode=code)) == (
        "NotAuthorizedException",
        "User cannot be confirmed. Current status is CONFIRMED",
    )


def test_a_code_expires_after_24_hours_of_virtual_time_and_a_resent_one_works(cloud):
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    name = new_user(cloud, confirm=False)
    code = cloud.service("cognito-idp").confirmation_code(name)
    cloud.advance(24 * 3600 + 1)
    confirm = idp.confirm_sign_up
    assert refusal(lambda: confirm(ClientId=out["Web"], Username=name, ConfirmationCode=code))[0] == (
        "ExpiredCodeException"
    )
    resent = idp.resend_confirmation_code(ClientId=out["Web"], Username=name)
    assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    confirm(
        ClientId=out["Web"],
        Username=name,
        ConfirmationCode=cloud.service("cognito-idp").confirmation_code(name),
    )
    assert password_sign_in(cloud, "Web", name)["IdToken"]


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Short-1a", "Password not long enough"),
        ("no-upper-case-1", "Password must have uppercase characters"),
        ("NO-LOWER-CASE-1", "Password must have lowercase characters"),
        ("No-Numbers-Here", "Password must have numeric characters"),
        ("NoSymbols123456", "Password must have symbol characters"),
    ],
)
def test_the_pool_s_password_policy_refuses_a_weak_password_naming_why(cloud, password, problem):
    idp = cloud.client("cognito-idp")
    sign_up = lambda: idp.sign_up(ClientId=cloud.outputs["Web"], Username="weak", Password=password)  # noqa: E731
    assert refusal(sign_up) == (
        "InvalidPasswordException",
        f"Password did not conform with policy: {problem}",
    )
    admin = lambda: idp.admin_set_user_password(  # noqa: E731
        UserPoolId=cloud.outputs["PoolId"], Username=new_user(cloud), Password=password, Permanent=True
    )
    assert refusal(admin)[0] == "InvalidPasswordException"


def test_a_pool_without_self_sign_up_refuses_sign_up(cloud):
    sign_up = lambda: cloud.client("cognito-idp").sign_up(  # noqa: E731
        ClientId=cloud.outputs["ClosedClient"], Username="walk-in", Password=PASSWORD
    )
    assert refusal(sign_up) == ("NotAuthorizedException", "SignUp is not permitted for this user pool")


# ---------------------------------------------------------------------------------------- sign-in


def test_both_flows_sign_a_confirmed_user_in_and_refuse_a_wrong_password(cloud):
    name = new_user(cloud)
    assert password_sign_in(cloud, "Web", name)["IdToken"]
    assert srp_sign_in(cloud, "Web", name)["IdToken"]
    assert refusal(lambda: password_sign_in(cloud, "Web", name, "Wrong-horse-99")) == (
        "NotAuthorizedException",
        "Incorrect username or password.",
    )
    assert refusal(lambda: srp_sign_in(cloud, "Web", name, "Wrong-horse-99")) == (
        "NotAuthorizedException",
        "Incorrect username or password.",
    )


def test_an_srp_challenge_answers_once_and_only_to_its_own_client(cloud):
    name = new_user(cloud)
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    srp = AWSSRP(name, PASSWORD, out["PoolId"], out["Web"], client=idp)
    params = srp.get_auth_params()
    challenge = idp.initiate_auth(ClientId=out["Web"], AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    answer = srp.process_challenge(challenge["ChallengeParameters"], params)
    other = lambda: idp.respond_to_auth_challenge(  # noqa: E731
        ClientId=out["SrpOnly"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
    )
    assert refusal(other)[0] == "NotAuthorizedException"
    again = srp.process_challenge(
        idp.initiate_auth(ClientId=out["Web"], AuthFlow="USER_SRP_AUTH", AuthParameters=params)[
            "ChallengeParameters"
        ],
        params,
    )
    respond = lambda: idp.respond_to_auth_challenge(  # noqa: E731
        ClientId=out["Web"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=again
    )
    assert respond()["AuthenticationResult"]["AccessToken"]
    assert refusal(respond)[0] == "NotAuthorizedException", "a used challenge is gone"


def test_an_unconfirmed_user_is_refused_on_both_flows_until_an_admin_confirms(cloud):
    name = new_user(cloud, confirm=False)
    unconfirmed = ("UserNotConfirmedException", "User is not confirmed.")
    assert refusal(lambda: password_sign_in(cloud, "Web", name)) == unconfirmed
    assert refusal(lambda: srp_sign_in(cloud, "Web", name)) == unconfirmed
    cloud.client("cognito-idp").admin_confirm_sign_up(UserPoolId=cloud.outputs["PoolId"], Username=name)
    assert srp_sign_in(cloud, "Web", name)["IdToken"]


def test_a_flow_the_client_does_not_enable_is_refused(cloud):
    name = new_user(cloud)
    password_off = ("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client")
    srp_off = ("InvalidParameterException", "USER_SRP_AUTH is not enabled for the client.")
    assert refusal(lambda: password_sign_in(cloud, "SrpOnly", name)) == password_off
    assert srp_sign_in(cloud, "SrpOnly", name)["IdToken"]
    assert refusal(lambda: srp_sign_in(cloud, "PasswordOnly", name)) == srp_off
    assert password_sign_in(cloud, "PasswordOnly", name)["IdToken"]
    # A client with no ExplicitAuthFlows allows SRP (and custom and refresh), not passwords.
    assert refusal(lambda: password_sign_in(cloud, "NoFlows", name)) == password_off
    assert srp_sign_in(cloud, "NoFlows", name)["IdToken"]


def test_a_client_with_a_secret_needs_the_right_secret_hash(cloud):
    name, out = new_user(cloud), cloud.outputs
    digest = hmac.new(out["ServerSecret"].encode(), f"{name}{out['Server']}".encode(), hashlib.sha256)
    secret_hash = base64.b64encode(digest.digest()).decode()
    assert refusal(lambda: password_sign_in(cloud, "Server", name)) == (
        "NotAuthorizedException",
        f"Client {out['Server']} is configured for secret but secret was not received",
    )
    assert refusal(lambda: password_sign_in(cloud, "Server", name, SECRET_HASH="bm90LWl0")) == (
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {out['Server']}",
    )
    assert password_sign_in(cloud, "Server", name, SECRET_HASH=secret_hash)["IdToken"]
    assert srp_sign_in(cloud, "Server", name, secret=out["ServerSecret"])["IdToken"]
    assert refusal(lambda: srp_sign_in(cloud, "Server", name, secret="not-the-secret"))[0] == (
        "NotAuthorizedException"
    )


def test_a_handler_signs_in_without_an_iam_grant_but_admin_calls_still_need_one(cloud):
    name = new_user(cloud)
    signer = cloud.outputs["SignerName"]
    signed_in = cloud.invoke(signer, {"username": name, "password": PASSWORD})["Payload"]
    assert signed_in["id_token"].count(".") == 2
    wrong = cloud.invoke(signer, {"username": name, "password": "Wrong-horse-99"})["Payload"]
    assert wrong == {"error": "NotAuthorizedException"}
    admin = cloud.invoke(signer, {"admin": True, "username": name})["Payload"]
    assert admin == {"error": "AccessDeniedException"}


# ---------------------------------------------------------------------------------------- authorizer


def test_the_authorizer_passes_the_users_groups_and_refuses_expired_or_foreign_tokens(cloud):
    name = new_user(cloud, groups=("admins", "editors"))
    tokens = srp_sign_in(cloud, "Web", name)
    api = cloud.api()
    me = api.get("/me", headers={"Authorization": tokens["IdToken"]})
    assert me.status_code == 200, me.text
    claims = me.json()["event"]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:username"] == name
    assert sorted(claims["cognito:groups"].split(",")) == ["admins", "editors"], (
        "comma-joined, as API Gateway"
    )
    assert claims["iss"] == cloud.outputs["ProviderUrl"]
    assert api.get("/me").status_code == 401
    idp, out = cloud.client("cognito-idp"), cloud.outputs
    idp.admin_create_user(UserPoolId=out["ClosedPool"], Username=name, TemporaryPassword=PASSWORD)
    idp.admin_set_user_password(
        UserPoolId=out["ClosedPool"], Username=name, Password=PASSWORD, Permanent=True
    )
    foreign = password_sign_in(cloud, "ClosedClient", name)
    assert api.get("/me", headers={"Authorization": foreign["IdToken"]}).status_code == 401
    cloud.advance(tokens["ExpiresIn"] - 1)
    assert api.get("/me", headers={"Authorization": tokens["IdToken"]}).status_code == 200
    cloud.advance(1)
    assert api.get("/me", headers={"Authorization": tokens["IdToken"]}).status_code == 401


def test_tokens_expire_after_the_client_s_validity_on_the_virtual_clock(cloud):
    tokens = srp_sign_in(cloud, "ShortLived", new_user(cloud))
    assert tokens["ExpiresIn"] == 600, "the access token's lifetime"
    api, headers = cloud.api(), {"Authorization": tokens["IdToken"]}
    cloud.advance(299)
    assert api.get("/me", headers=headers).status_code == 200
    cloud.advance(1)
    assert api.get("/me", headers=headers).status_code == 401, "the ID token lasts 5 minutes"


def test_a_password_reset_takes_only_the_code_sent_within_the_hour(cloud):
    idp, out, name = cloud.client("cognito-idp"), cloud.outputs, new_user(cloud)
    idp.forgot_password(ClientId=out["Web"], Username=name)
    code = cloud.service("cognito-idp").confirmation_code(name)
    new_password = "Battery-staple-7"
    reset = lambda code: idp.confirm_forgot_password(  # noqa: E731
        ClientId=out["Web"], Username=name, ConfirmationCode=code, Password=new_password
    )
    assert refusal(lambda: reset("moto-any-code"))[0] == "CodeMismatchException"
    cloud.advance(3601)
    assert refusal(lambda: reset(code))[0] == "ExpiredCodeException"
    idp.forgot_password(ClientId=out["Web"], Username=name)
    reset(cloud.service("cognito-idp").confirmation_code(name))
    assert password_sign_in(cloud, "Web", name, new_password)["IdToken"]
    assert refusal(lambda: password_sign_in(cloud, "Web", name))[0] == "NotAuthorizedException"


@pytest.mark.parametrize(
    "srp_a", [None, "", "not-hex", format(srp.N, "x")], ids=["missing", "empty", "not-hex", "N"]
)
def test_an_srp_sign_in_without_a_usable_srp_a_is_refused_by_name(cloud, srp_a):
    """Cognito names the parameter; no SRP_A (or one that is 0 modulo N) would let anyone in."""
    name = new_user(cloud)
    params = {"USERNAME": name} if srp_a is None else {"USERNAME": name, "SRP_A": srp_a}
    initiate = lambda: cloud.client("cognito-idp").initiate_auth(  # noqa: E731
        ClientId=cloud.outputs["Web"], AuthFlow="USER_SRP_AUTH", AuthParameters=params
    )
    code, message = refusal(initiate)
    assert code == "InvalidParameterException"
    assert message.startswith(("Missing required parameter SRP_A", "SRP_A is ")), message
    assert "int()" not in message
