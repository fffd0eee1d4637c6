"""Who API Gateway lets in: Lambda authorizers (TOKEN and REQUEST) with their cached policies, and
API keys with a usage plan's throttle and quota, on the virtual clock."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw

from localcloud import LocalCloud
from localcloud.errors import ApiGatewayError
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

UNAUTHORIZED = {"message": "Unauthorized"}
EXPLICIT_DENY = {"Message": "User is not authorized to access this resource with an explicit deny"}
NOT_ALLOWED = {"Message": "User is not authorized to access this resource"}
FORBIDDEN = {"message": "Forbidden"}
TTL = 300


def build(stack: Stack) -> None:
    grants = pk_table(stack, "Grants")
    checker = python_function(
        stack, "Checker", "apigw_authorizer", environment={"GRANTS_TABLE": grants.table_name}
    )
    grants.grant_read_data(checker)
    proxy = apigw.LambdaIntegration(python_function(stack, "Echo", "apigw_echo"))
    token = apigw.TokenAuthorizer(
        stack,
        "TokenAuth",
        handler=checker,
        results_cache_ttl=Duration.seconds(TTL),
        validation_regex="[a-z0-9-]+",
    )
    request = apigw.RequestAuthorizer(
        stack,
        "RequestAuth",
        handler=checker,
        identity_sources=[apigw.IdentitySource.header("X-Token")],
        results_cache_ttl=Duration.seconds(0),
    )
    api = apigw.RestApi(
        stack, "Api", cloud_watch_role=False, deploy_options=apigw.StageOptions(stage_name="prod")
    )
    orders = api.root.add_resource("orders")
    orders.add_method("GET", proxy, authorizer=token)
    orders.add_resource("{id}").add_method("GET", proxy, authorizer=token)
    api.root.add_resource("reports").add_method("GET", proxy, authorizer=request)
    api.root.add_resource("keyed").add_method("GET", proxy, api_key_required=True)

    plan = api.add_usage_plan(
        "Plan",
        throttle=apigw.ThrottleSettings(rate_limit=1, burst_limit=2),
        quota=apigw.QuotaSettings(limit=5, period=apigw.Period.DAY),
        api_stages=[apigw.UsagePlanPerApiStage(api=api, stage=api.deployment_stage)],
    )
    plan.add_api_key(apigw.ApiKey(stack, "PartnerKey", api_key_name="partner"))
    plan.add_api_key(apigw.ApiKey(stack, "RetiredKey", enabled=False))
    apigw.ApiKey(stack, "StrayKey", value="stray-key-in-no-plan-0123456789")


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    return run(synth("ApiAuth", build))


def grant(
    cloud: LocalCloud, token: str, effect: str = "Allow", scope: str = "all", user: str = "alice"
) -> None:
    item = {"pk": {"S": token}, "effect": {"S": effect}, "scope": {"S": scope}, "user": {"S": user}}
    cloud.client("dynamodb").put_item(TableName=cloud.physical_id("Grants"), Item=item)


def checks(cloud: LocalCloud) -> int:
    """How many times the authorizer function ran."""
    return len(cloud.trace.find("invoke", target=cloud.function("Checker").name))


def backend_event(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


# ---------------------------------------------------------------------------------------- TOKEN


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Not Valid!"}])
def test_a_missing_or_malformed_token_is_401_without_running_the_authorizer(cloud, headers):
    response = cloud.api().get("/orders", headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert checks(cloud) == 0


def test_a_token_the_authorizer_does_not_know_is_401(cloud):
    response = cloud.api().get("/orders", headers={"Authorization": "nobody"})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert checks(cloud) == 1


def test_an_explicit_deny_is_403(cloud):
    grant(cloud, "mallory", effect="Deny")
    response = cloud.api().get("/orders", headers={"Authorization": "mallory"})
    assert (response.status_code, response.json()) == (403, EXPLICIT_DENY)
    assert response.header("x-amzn-ErrorType") == "AccessDeniedException"


def test_a_policy_that_does_not_cover_the_method_is_403(cloud):
    grant(cloud, "eve", scope="other")
    response = cloud.api().get("/orders", headers={"Authorization": "eve"})
    assert (response.status_code, response.json()) == (403, NOT_ALLOWED)


def test_a_crashing_authorizer_is_500(cloud):
    response = cloud.api().get("/orders", headers={"Authorization": "crash"})
    assert (response.status_code, response.json()) == (500, {"message": None})
    assert cloud.trace.find("invoke", target=cloud.function("Echo").name) == []


def test_an_allowed_caller_reaches_the_backend_with_the_authorizers_context(cloud):
    grant(cloud, "alice")
    event = backend_event(cloud.api().get("/orders", headers={"Authorization": "alice"}))
    assert event["requestContext"]["authorizer"] == {
        "principalId": "alice",
        "user": "alice",
        "tier": "3",
        "admin": "true",
        "event_type": "TOKEN",
        "method_arn": event["requestContext"]["authorizer"]["method_arn"],
        "integrationLatency": 0,
    }
    [check, backend] = cloud.trace.find("invoke")
    [request] = cloud.trace.find("request")
    assert (check.parent, backend.parent) == (request.id, request.id)


def test_the_answer_is_cached_for_the_ttl_on_the_virtual_clock(cloud):
    api = cloud.api()
    grant(cloud, "alice")
    assert api.get("/orders", headers={"Authorization": "alice"}).status_code == 200
    grant(cloud, "alice", effect="Deny")  # revoked, but the allow is cached
    cloud.advance(TTL - 1)
    assert api.get("/orders", headers={"Authorization": "alice"}).status_code == 200
    assert checks(cloud) == 1
    cloud.advance(1)
    response = api.get("/orders", headers={"Authorization": "alice"})
    assert (response.status_code, response.json()) == (403, EXPLICIT_DENY), "asked again once the TTL passed"
    assert checks(cloud) == 2


def test_a_cached_policy_is_checked_against_each_requests_method_arn(cloud):
    api = cloud.api()
    grant(cloud, "bob", scope="own", user="bob")
    assert api.get("/orders/1", headers={"Authorization": "bob"}).status_code == 200
    second = api.get("/orders/2", headers={"Authorization": "bob"})
    assert (second.status_code, second.json()) == (403, NOT_ALLOWED), "the cached policy names /orders/1 only"
    assert checks(cloud) == 1


def test_the_authorizer_gets_the_method_arn_of_the_request_path(cloud):
    grant(cloud, "alice")
    event = backend_event(cloud.api().get("/orders/7", headers={"Authorization": "alice"}))
    api_id = cloud.apigateway.find().id
    assert (
        event["requestContext"]["authorizer"]["method_arn"]
        == f"arn:aws:execute-api:us-east-1:{cloud.account}:{api_id}/prod/GET/orders/7"
    )


# ---------------------------------------------------------------------------------------- REQUEST


def test_a_request_authorizer_without_a_cache_runs_for_every_request(cloud):
    api = cloud.api()
    grant(cloud, "carol", user="carol")
    first = backend_event(api.get("/reports", headers={"X-Token": "carol"}))
    assert (
        first["requestContext"]["authorizer"]["event_type"],
        first["requestContext"]["authorizer"]["principalId"],
    ) == (
        "REQUEST",
        "carol",
    )
    grant(cloud, "carol", effect="Deny", user="carol")
    second = api.get("/reports", headers={"X-Token": "carol"})
    assert (second.status_code, second.json()) == (403, EXPLICIT_DENY), "TTL 0: no cache"
    assert checks(cloud) == 2


def test_a_request_authorizer_needs_every_identity_source(cloud):
    response = cloud.api().get("/reports", headers={"Authorization": "carol"})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert checks(cloud) == 0


# ---------------------------------------------------------------------------------------- API keys


def key_value(cloud: LocalCloud, name: str) -> str:
    return cloud.apigateway.api_key_value(name)


@pytest.mark.parametrize(
    "key",
    [None, "no-such-key", "stray-key-in-no-plan-0123456789", "RetiredKey"],
    ids=["none", "unknown", "no-plan", "disabled"],
)
def test_a_method_needing_an_api_key_refuses_a_missing_unknown_unplanned_or_disabled_key(cloud, key):
    value = key_value(cloud, key) if key == "RetiredKey" else key
    response = cloud.api().get("/keyed", headers={"x-api-key": value} if value else {})
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert cloud.trace.find("invoke") == []


def test_a_planned_key_is_let_in_and_reaches_the_request_context(cloud):
    value = key_value(cloud, "partner")
    identity = backend_event(cloud.api().get("/keyed", headers={"x-api-key": value}))["requestContext"][
        "identity"
    ]
    assert (identity["apiKey"], identity["apiKeyId"]) == (value, cloud.physical_id("PartnerKey"))


def test_the_usage_plan_throttles_each_key_then_lets_it_in_again(cloud):
    api, headers = cloud.api(), {"x-api-key": key_value(cloud, "PartnerKey")}
    assert [api.get("/keyed", headers=headers).status_code for _ in range(3)] == [200, 200, 429]
    throttled = api.get("/keyed", headers=headers)
    assert throttled.json() == {"message": "Too Many Requests"}
    cloud.advance(1)
    assert api.get("/keyed", headers=headers).status_code == 200


def test_the_usage_plan_quota_holds_for_the_day(cloud):
    api, headers = cloud.api(), {"x-api-key": key_value(cloud, "partner")}
    statuses = []
    for _ in range(6):
        statuses.append(api.get("/keyed", headers=headers).status_code)
        cloud.advance(2)
    assert statuses == [200] * 5 + [429]
    exceeded = api.get("/keyed", headers=headers)
    assert (exceeded.status_code, exceeded.json()) == (429, {"message": "Limit Exceeded"})
    cloud.advance(24 * 3600)
    assert api.get("/keyed", headers=headers).status_code == 200, "a new day, a new quota"


def test_a_key_value_is_found_by_logical_id_construct_path_or_name(cloud):
    by_name = key_value(cloud, "partner")
    assert key_value(cloud, "PartnerKey") == by_name
    assert len(by_name) == 40 and by_name != key_value(cloud, "RetiredKey")
    with pytest.raises(ApiGatewayError, match="is not an API key"):
        key_value(cloud, "Grants")
