"""Who an HTTP API lets in: JWT authorizers (a Cognito user pool's tokens and another issuer's,
checked for signature, issuer, audience, times on the virtual clock and scopes) and Lambda
authorizers (formats 1.0 and 2.0, simple and IAM policy answers, identity sources, caching)."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_apigatewayv2 as v2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from joserfc import jwt
from joserfc.jwk import RSAKey

from localcloud import LocalCloud
from localcloud.core import authorizer_policy
from localcloud.core.clock import FIXED_START
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
INTERNAL = {"message": "Internal Server Error"}
ISSUER = "https://issuer.example.com"
PASSWORD = "Correct-horse-9"
TTL = 60


def build(stack: Stack) -> None:
    echo = integrations.HttpLambdaIntegration("Echo", python_function(stack, "Echo", "http_echo"))
    pool = cognito.UserPool(stack, "Pool")
    client = pool.add_client("Web", auth_flows=cognito.AuthFlow(user_password=True))
    members = authorizers.HttpUserPoolAuthorizer("Members", pool, user_pool_clients=[client])
    partners = authorizers.HttpJwtAuthorizer("Partners", ISSUER, jwt_audience=["shop", "shop-admin"])
    simple = authorizers.HttpLambdaAuthorizer(
        "Simple",
        python_function(stack, "SimpleAuth", "http_authorizer", environment={"RESPONSE": "simple"}),
        identity_source=["$request.header.X-Token"],
        response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
        results_cache_ttl=Duration.seconds(TTL),
    )
    policy_function = python_function(stack, "PolicyAuth", "http_authorizer")
    policy = authorizers.HttpLambdaAuthorizer(
        "Policy",
        policy_function,
        identity_source=["$request.header.X-Token", "$request.querystring.tenant"],
        response_types=[authorizers.HttpLambdaResponseType.IAM],
        results_cache_ttl=Duration.seconds(0),
    )
    api = v2.HttpApi(stack, "Api")
    api.add_routes(path="/profile", methods=[v2.HttpMethod.GET], integration=echo, authorizer=members)
    api.add_routes(
        path="/account",
        methods=[v2.HttpMethod.GET],
        integration=echo,
        authorizer=members,
        authorization_scopes=["aws.cognito.signin.user.admin"],
    )
    api.add_routes(
        path="/orders",
        methods=[v2.HttpMethod.GET],
        integration=echo,
        authorizer=partners,
        authorization_scopes=["orders/read"],
    )
    api.add_routes(path="/partner", methods=[v2.HttpMethod.GET], integration=echo, authorizer=partners)
    api.add_routes(path="/simple", methods=[v2.HttpMethod.GET], integration=echo, authorizer=simple)
    api.add_routes(path="/policy/{any+}", methods=[v2.HttpMethod.GET], integration=echo, authorizer=policy)

    # A format 1.0 authorizer, which CDK's construct does not make.
    legacy = v2.CfnAuthorizer(
        stack,
        "Legacy",
        api_id=api.api_id,
        name="legacy",
        authorizer_type="REQUEST",
        authorizer_payload_format_version="1.0",
        authorizer_uri=f"arn:aws:apigateway:{stack.region}:lambda:path/2015-03-31/functions/{policy_function.function_arn}/invocations",
        identity_source=["$request.header.X-Token"],
    )
    policy_function.add_permission(
        "LegacyInvoke",
        principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
        source_arn=Fn.join(
            "",
            [
                "arn:aws:execute-api:",
                stack.region,
                ":",
                stack.account,
                ":",
                api.api_id,
                "/authorizers/",
                legacy.ref,
            ],
        ),
    )
    route = api.add_routes(path="/legacy", methods=[v2.HttpMethod.GET], integration=echo)[0]
    cfn_route = route.node.default_child
    cfn_route.authorization_type = "CUSTOM"
    cfn_route.authorizer_id = legacy.ref


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("HttpApiAuth", build), start=FIXED_START) as running:
        running.service("apigatewayv2").trust_issuer(ISSUER, {"keys": [KEY.as_dict(private=False)]})
        yield running


KEY = RSAKey.generate_key(2048, parameters={"kid": "partner-1", "alg": "RS256", "use": "sig"})
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "partner-1", "alg": "RS256", "use": "sig"})


def partner_token(cloud: LocalCloud, key: RSAKey = KEY, **claims) -> str:
    now = int(cloud.clock.now().timestamp())
    body = {"iss": ISSUER, "sub": "partner-7", "aud": "shop", "iat": now, "exp": now + 300, **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def signed_in(cloud: LocalCloud, username: str) -> dict[str, str]:
    idp = cloud.client("cognito-idp")
    pool_id, client_id = cloud.physical_id("Pool"), cloud.physical_id("Pool/Web")
    try:
        idp.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword=PASSWORD)
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    except idp.exceptions.UsernameExistsException:
        pass
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


def invocations(cloud: LocalCloud, function: str) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function(function).name))


# ---------------------------------------------------------------------------------------- JWT: Cognito


def test_a_user_pool_id_token_lets_in_with_its_claims_in_the_event(cloud):
    tokens = signed_in(cloud, "ada")
    response = cloud.http_api().get("/profile", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert response.status_code == 200, response.text
    jwt_context = response.json()["event"]["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["cognito:username"] == "ada" and jwt_context["claims"]["token_use"] == "id"
    assert jwt_context["scopes"] is None


def test_an_access_token_without_aud_is_checked_by_client_id_and_its_scopes(cloud):
    tokens = signed_in(cloud, "ada")
    response = cloud.http_api().get("/account", headers={"Authorization": tokens["AccessToken"]})
    assert response.status_code == 200, response.text
    assert response.json()["event"]["requestContext"]["authorizer"]["jwt"]["scopes"] == [
        "aws.cognito.signin.user.admin"
    ]
    # An ID token has no scope claim: the route's scope is missing.
    refused = cloud.http_api().get("/account", headers={"Authorization": tokens["IdToken"]})
    assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    assert 'error="insufficient_scope"' in refused.header("www-authenticate")


def test_a_user_pool_token_expires_on_the_virtual_clock(cloud):
    tokens = signed_in(cloud, "ada")
    headers = {"Authorization": tokens["IdToken"]}
    cloud.advance(tokens["ExpiresIn"] - 1)
    assert cloud.http_api().get("/profile", headers=headers).status_code == 200
    cloud.advance(1)
    expired = cloud.http_api().get("/profile", headers=headers)
    assert (expired.status_code, expired.json()) == (401, UNAUTHORIZED)
    assert 'error="invalid_token"' in expired.header("www-authenticate")


def test_no_token_is_401_without_the_invalid_token_header(cloud):
    response = cloud.http_api().get("/profile")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response.header("www-authenticate") is None


def test_a_token_of_another_issuer_or_forged_is_401_invalid_token(cloud):
    api = cloud.http_api()
    for token in ("not-a-jwt", partner_token(cloud), signed_in(cloud, "ada")["IdToken"][:-6] + "AAAAAA"):
        response = api.get("/profile", headers={"Authorization": token})
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), token
        assert 'Bearer scope="" error="invalid_token"' in response.header("www-authenticate")


# ---------------------------------------------------------------------------------------- JWT: other issuer


def test_a_partner_token_with_the_scope_lets_in(cloud):
    token = partner_token(cloud, scope="orders/read orders/write")
    response = cloud.http_api().get("/orders", headers={"Authorization": token})
    assert response.status_code == 200, response.text
    claims = response.json()["event"]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "partner-7" and claims["aud"] == "shop"


def test_scp_lists_count_as_scopes(cloud):
    token = partner_token(cloud, scp=["orders/read"])
    assert cloud.http_api().get("/orders", headers={"Authorization": token}).status_code == 200


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"scope": "orders/write"}, 403),
        ({}, 403),
        ({"scope": "orders/read", "aud": "someone-else"}, 401),
        ({"scope": "orders/read", "aud": None, "client_id": "shop-admin"}, 200),
        ({"scope": "orders/read", "iss": "https://issuer.example.com/other"}, 401),
        ({"scope": "orders/read", "exp": 0}, 401),
        ({"scope": "orders/read", "exp": None}, 401),
        ({"scope": "orders/read", "nbf": 2_000_000_000}, 401),
        ({"scope": "orders/read", "iat": 2_000_000_000}, 401),
    ],
)
def test_each_claim_rule_of_a_jwt_authorizer(cloud, claims, status):
    response = cloud.http_api().get("/orders", headers={"Authorization": partner_token(cloud, **claims)})
    assert response.status_code == status, response.text


def test_a_token_signed_by_an_unknown_key_is_401(cloud):
    response = cloud.http_api().get("/partner", headers={"Authorization": partner_token(cloud, key=STRANGER)})
    assert response.status_code == 401


# ---------------------------------------------------------------------------------------- Lambda, simple


def test_a_simple_authorizer_lets_in_with_its_context_and_is_cached_for_its_ttl(cloud):
    api = cloud.http_api()
    before = invocations(cloud, "SimpleAuth")
    first = api.get("/simple", headers={"X-Token": "allow-bo"})
    assert first.status_code == 200, first.text
    assert first.json()["event"]["requestContext"]["authorizer"] == {
        "lambda": {"user": "bo", "version": "2.0"}
    }
    assert api.get("/simple", headers={"X-Token": "allow-bo"}).status_code == 200
    assert invocations(cloud, "SimpleAuth") == before + 1
    cloud.advance(TTL)
    assert api.get("/simple", headers={"X-Token": "allow-bo"}).status_code == 200
    assert invocations(cloud, "SimpleAuth") == before + 2


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        ("deny", 403, FORBIDDEN),
        ("crash", 500, INTERNAL),
        ("garbled", 500, INTERNAL),
        (None, 401, UNAUTHORIZED),
    ],
)
def test_a_simple_authorizer_refusing_failing_or_not_asked(cloud, token, status, body):
    before = invocations(cloud, "SimpleAuth")
    response = cloud.http_api().get("/simple", headers={"X-Token": token} if token else {})
    assert (response.status_code, response.json()) == (status, body)
    assert invocations(cloud, "SimpleAuth") == before + (0 if token is None else 1)


# ---------------------------------------------------------------------------------------- Lambda, policy


def test_a_policy_authorizer_needs_every_identity_source_and_an_allow_for_the_route(cloud):
    api = cloud.http_api()
    allowed = api.get("/policy/a/b", headers={"X-Token": "allow-cy"}, query={"tenant": "t1"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["event"]["requestContext"]["authorizer"]["lambda"]["user"] == "cy"
    before = invocations(cloud, "PolicyAuth")
    assert api.get("/policy/a", headers={"X-Token": "allow-cy"}).status_code == 401
    for token in ("deny", "elsewhere"):
        response = api.get("/policy/a", headers={"X-Token": token}, query={"tenant": "t1"})
        assert (response.status_code, response.json()) == (403, FORBIDDEN), token
    # No caching with a TTL of 0: each request asked the function.
    assert invocations(cloud, "PolicyAuth") == before + 2


def test_a_policy_api_gateway_cannot_read_is_a_500_in_both_formats(cloud):
    for path in ("/policy/a", "/legacy"):
        response = cloud.http_api().get(path, headers={"X-Token": "malformed"}, query={"tenant": "t1"})
        assert (response.status_code, response.json()) == (500, INTERNAL), path


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        ({"Statement": []}, "no policyDocument"),
        ({"Statement": ["Allow"]}, "Statement 0 is not an object"),
        ({"Statement": {"Effect": "Maybe"}}, "not Allow or Deny"),
        ({"Statement": [{"Effect": "Allow", "Action": ["execute-api:*", 7]}]}, "Action is not a string"),
        ({"Statement": [{"Effect": "Allow", "Resource": {"arn": "*"}}]}, "Resource is not a string"),
    ],
)
def test_the_authorizer_policy_problem_names_what_api_gateway_cannot_read(policy, why):
    assert why in authorizer_policy.problem(policy)


def test_the_authorizer_policy_effect_deny_wins_and_wildcards_match():
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items"
    allow = {"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:abc/*"}
    deny = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [arn]}
    assert authorizer_policy.effect({"Statement": allow}, arn) == "Allow"
    assert authorizer_policy.effect({"Statement": [allow, deny]}, arn) == "Deny"
    assert authorizer_policy.effect({"Statement": [allow]}, arn.replace("abc", "xyz")) is None


def test_a_format_1_authorizer_gets_the_rest_shaped_event(cloud):
    response = cloud.http_api().get("/legacy", headers={"X-Token": "allow-di"})
    assert response.status_code == 200, response.text
    context = response.json()["event"]["requestContext"]["authorizer"]["lambda"]
    assert context == {"user": "di", "version": "1.0"}
    denied = cloud.http_api().get("/legacy", headers={"X-Token": "deny"})
    assert (denied.status_code, denied.json()) == (403, FORBIDDEN)
