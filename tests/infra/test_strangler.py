"""What makes the strangler: a catch-all HTTP proxy to the legacy API, migrated routes to Lambda,
no gap between them, moving a route is one line, and a web ACL keeps dot segments out."""

from __future__ import annotations

import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.defaults import SecureDefaultOverridden
from patterns.strangler import LEGACY_HOST_PATTERN, PATH_TRAVERSAL_RULE, Strangler, path_traversal_rule
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StranglerStack"
LEGACY = "://${stageVariables.legacyApiHost}"


def paths(raw: dict) -> dict[str, str]:
    """Every API resource's full path, by logical id ('' for the root)."""
    resources = properties_of(raw, "AWS::ApiGateway::Resource")
    found: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in found:
            parent = resources[logical_id]["ParentId"]
            head = path_of(parent["Ref"]) if "Ref" in parent else ""
            found[logical_id] = f"{head}/{resources[logical_id]['PathPart']}"
        return found[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return found


def routes(raw: dict) -> dict[tuple[str, str], dict]:
    """``(METHOD, path)`` -> the method's integration, for every method of the API."""
    by_id = paths(raw)
    out = {}
    for method in properties_of(raw, "AWS::ApiGateway::Method").values():
        resource = method["ResourceId"]
        path = by_id[resource["Ref"]] if "Ref" in resource else "/"
        out[(method["HttpMethod"], path)] = method["Integration"]
    return out


def legacy_uri(integration: dict) -> str:
    """The URI of a legacy integration with the scheme parameter shown as ``<scheme>``."""
    parts = integration["Uri"]["Fn::Join"][1]
    return "".join("<scheme>" if part == {"Ref": "LegacyApiScheme"} else part for part in parts)


@pytest.fixture(scope="module")
def raw(templates):
    return templates[STACK]


def test_every_request_not_migrated_goes_to_the_legacy_api_unchanged(raw):
    api = routes(raw)
    for key, uri in ((("ANY", "/"), "/"), (("ANY", "/{proxy+}"), "/{proxy}")):
        integration = api[key]
        assert integration["Type"] == "HTTP_PROXY" and integration["IntegrationHttpMethod"] == "ANY"
        assert legacy_uri(integration) == f"<scheme>{LEGACY}{uri}"
        assert integration["TimeoutInMillis"] == 29000
        assert integration["RequestParameters"]["integration.request.header.X-Forwarded-For"] == (
            "context.identity.sourceIp"
        ), "the legacy API learns the client's address"
    assert api[("ANY", "/{proxy+}")]["RequestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy",
        "integration.request.header.X-Forwarded-For": "context.identity.sourceIp",
    }


def test_the_migrated_route_goes_to_the_new_service_through_a_lambda_proxy(raw):
    [function_id] = [
        k
        for k, p in properties_of(raw, "AWS::Lambda::Function").items()
        if p["Handler"] == "products.handler"
    ]
    integration = routes(raw)[("GET", "/products/{id}")]
    assert integration["Type"] == "AWS_PROXY"
    assert {"Fn::GetAtt": [function_id, "Arn"]} in integration["Uri"]["Fn::Join"][1]


def test_no_request_falls_between_the_migrated_route_and_the_catch_all(raw):
    """Other methods on a migrated resource, its parents and its deeper paths all reach the legacy API."""
    api = routes(raw)
    assert sorted(api) == [
        ("ANY", "/"),
        ("ANY", "/products"),
        ("ANY", "/products/{id}"),
        ("ANY", "/products/{id}/{proxy+}"),
        ("ANY", "/{proxy+}"),
        ("GET", "/products/{id}"),
    ]
    assert legacy_uri(api[("ANY", "/products/{id}")]) == f"<scheme>{LEGACY}/products/{{id}}"
    assert (
        legacy_uri(api[("ANY", "/products/{id}/{proxy+}")]) == f"<scheme>{LEGACY}/products/{{id}}/{{proxy}}"
    )
    assert api[("ANY", "/products/{id}/{proxy+}")]["RequestParameters"] == {
        "integration.request.path.id": "method.request.path.id",
        "integration.request.path.proxy": "method.request.path.proxy",
        "integration.request.header.X-Forwarded-For": "context.identity.sourceIp",
    }


def test_the_legacy_host_is_a_stage_variable_from_a_parameter_so_changing_it_needs_no_redeployment(raw):
    [stage] = properties_of(raw, "AWS::ApiGateway::Stage").values()
    assert stage["Variables"] == {"legacyApiHost": {"Ref": "LegacyApiHost"}}
    host, scheme = raw["Parameters"]["LegacyApiHost"], raw["Parameters"]["LegacyApiScheme"]
    assert host["Default"] == "legacy.example.com" and host["AllowedPattern"] == LEGACY_HOST_PATTERN
    assert scheme["Default"] == "https" and scheme["AllowedValues"] == ["https", "http"]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("legacy.example.com", True),
        ("127.0.0.1:8080", True),
        ("legacy.internal/api/v1", True),
        ("https://legacy.example.com", False),
        ("legacy.example.com/", False),
        ("legacy.example.com/a?b=c", False),
    ],
)
def test_the_host_parameter_takes_a_host_and_base_path_only(value, accepted):
    assert bool(re.match(LEGACY_HOST_PATTERN, value)) is accepted


def test_the_new_service_may_only_read_its_own_table(raw):
    [function_id] = [
        k
        for k, p in properties_of(raw, "AWS::Lambda::Function").items()
        if p["Handler"] == "products.handler"
    ]
    role = raw["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    [table_id] = resources_of(raw, "AWS::DynamoDB::Table")
    grants = [s for s in statements_of(raw, role) if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in grants] == [
        (["dynamodb:GetItem"], {"Fn::GetAtt": [table_id, "Arn"]})
    ], "GET /products/{id} reads one product: no Scan until GET /products is migrated"


def test_migrating_the_list_route_grants_the_scan_it_needs():
    raw = synthesized(
        legacy_url="https://legacy.example.com",
        migrated_routes={"GET /products/{id}": "products.handler", "GET /products": "products.handler"},
    )
    [table_id] = resources_of(raw, "AWS::DynamoDB::Table")
    actions = {
        action
        for s in statements_of(raw)
        if {"Fn::GetAtt": [table_id, "Arn"]}
        in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        for action in s["Action"]
    }
    assert actions == {"dynamodb:GetItem", "dynamodb:Scan"}


def synthesized(**props) -> dict:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Facade")
    Strangler(stack, "Facade", **props)
    return Template.from_stack(stack).to_json()


def test_moving_a_route_is_one_line_of_configuration():
    before = routes(synthesized(migrated_routes={"GET /products/{id}": "products.handler"}))
    after = routes(
        synthesized(
            migrated_routes={
                "GET /products/{id}": "products.handler",
                "GET /products": "products.handler",
            }
        )
    )
    assert before[("ANY", "/products")]["Type"] == "HTTP_PROXY" and ("GET", "/products") not in before
    assert after[("GET", "/products")]["Type"] == "AWS_PROXY"
    assert after[("ANY", "/products")]["Type"] == "HTTP_PROXY", "other methods of /products stay legacy"
    assert set(after) - set(before) == {("GET", "/products")}


def test_a_fixed_legacy_url_needs_no_parameter_and_a_greedy_route_moves_a_whole_subtree():
    raw = synthesized(
        legacy_url="http://legacy.internal:8080/api",
        migrated_routes={"ANY /catalog/{path+}": "products.handler"},
        legacy_timeout=Duration.seconds(5),
    )
    assert "LegacyApiHost" not in raw.get("Parameters", {})
    api = routes(raw)
    assert api[("ANY", "/catalog/{path+}")]["Type"] == "AWS_PROXY"
    assert api[("ANY", "/catalog")]["Uri"] == "http://legacy.internal:8080/api/catalog"
    assert api[("ANY", "/catalog")]["TimeoutInMillis"] == 5000
    assert ("ANY", "/catalog/{path+}/{proxy+}") not in api


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"migrated_routes": {"FETCH /products": "products.handler"}}, "expected '<METHOD> /path'"),
        ({"migrated_routes": {"GET products": "products.handler"}}, "expected '<METHOD> /path'"),
        ({"migrated_routes": {"GET /{tenant}/orders": "products.handler"}}, "legacy catch-all"),
        ({"migrated_routes": {"GET /a/{rest+}/b": "products.handler"}}, "must end the path"),
        ({"migrated_routes": {"GET /a b": "products.handler"}}, "expected '<METHOD> /path'"),
        (
            {"migrated_routes": {"GET /p/{id}": "products.handler", "PUT /p/{sku}": "products.handler"}},
            "more than one variable child",
        ),
        ({"legacy_url": "legacy.example.com"}, "must be http"),
        ({"legacy_url": "https://legacy.example.com/"}, "must be http"),
        ({"legacy_timeout": Duration.seconds(30)}, "legacy_timeout must be from 50 ms to 29 s"),
    ],
)
def test_contradictory_or_impossible_props_fail_at_synth_naming_the_problem(props, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        synthesized(**props)


def test_two_facades_in_one_stack_cannot_share_the_stack_parameters():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Two")
    Strangler(stack, "First")
    with pytest.raises(ValueError, match="a second facade in Two needs its own legacy_url"):
        Strangler(stack, "Second")
    Strangler(stack, "Third", legacy_url="https://other.example.com")


def test_a_products_table_without_a_route_to_the_products_service_is_refused():
    from aws_cdk import aws_lambda as lambda_

    stack = Stack(App(builtin_cloud_formation_validation=False), "Own")
    own = lambda_.Function.from_function_arn(
        stack, "Own", "arn:aws:lambda:us-east-1:123456789012:function:own"
    )
    table = Strangler(stack, "WithSample").products_table
    with pytest.raises(ValueError, match="products_table is for routes to handlers of functions/strangler/"):
        Strangler(
            stack,
            "Mine",
            legacy_url="https://x.example.com",
            migrated_routes={"GET /a": own},
            products_table=table,
        )
    mine = Strangler(stack, "Fine", legacy_url="https://x.example.com", migrated_routes={"GET /a": own})
    assert mine.products_table is None and mine.migrated_routes == {"GET /a": own}


def test_a_web_acl_blocks_dot_segments_after_decoding_twice_on_the_stage(raw):
    [(acl_id, acl)] = properties_of(raw, "AWS::WAFv2::WebACL").items()
    assert (acl["Scope"], acl["DefaultAction"]) == ("REGIONAL", {"Allow": {}})
    assert acl["VisibilityConfig"]["CloudWatchMetricsEnabled"] and "Name" not in acl
    [rule] = acl["Rules"]
    assert (rule["Name"], rule["Action"]) == (PATH_TRAVERSAL_RULE, {"Block": {}})
    matches = [s["ByteMatchStatement"] for s in rule["Statement"]["OrStatement"]["Statements"]]
    assert {(m["PositionalConstraint"], m["SearchString"]) for m in matches} == {
        ("CONTAINS", "/../"),
        ("CONTAINS", "/./"),
        ("ENDS_WITH", "/.."),
        ("ENDS_WITH", "/."),
    }
    for match in matches:
        assert match["FieldToMatch"] == {"UriPath": {}}
        assert match["TextTransformations"] == [
            {"Priority": 0, "Type": "URL_DECODE"},
            {"Priority": 1, "Type": "URL_DECODE"},
        ]
    [association] = properties_of(raw, "AWS::WAFv2::WebACLAssociation").values()
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    [stage_id] = resources_of(raw, "AWS::ApiGateway::Stage")
    assert {"Ref": stage_id} in association["ResourceArn"]["Fn::Join"][1]


def apig3_acknowledged(facade: Strangler) -> bool:
    return any(
        entry.type == "aws:cdk:acknowledged-rules" and "AwsSolutions::AwsSolutions-APIG3" in entry.data
        for entry in facade.api.deployment_stage.node.metadata
    )


def test_with_the_web_acl_cdk_nag_finds_the_stage_guarded_without_an_acknowledgment(nag_report):
    """APIG3 ("no WAF on the stage") is neither open nor acknowledged: the association satisfies it,
    and no stale acknowledgment would hide its loss."""
    apig3 = [
        (kind, construct["constructPath"])
        for report in nag_report["pluginReports"]
        for kind in ("violations", "suppressedViolations")
        for violation in report.get(kind, [])
        if violation["ruleName"].endswith("APIG3")
        for construct in violation["violatingConstructs"]
        if construct["constructPath"].startswith(f"{STACK}/")
    ]
    assert apig3 == []
    stack = Stack(App(builtin_cloud_formation_validation=False), "Ack")
    assert not apig3_acknowledged(Strangler(stack, "Guarded"))
    with pytest.warns(SecureDefaultOverridden):
        assert apig3_acknowledged(
            Strangler(stack, "Open", legacy_url="https://x.example.com", block_path_traversal=False)
        )


def test_your_own_web_acl_is_associated_instead():
    mine = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mine/1111"
    raw = synthesized(web_acl=mine)
    assert resources_of(raw, "AWS::WAFv2::WebACL") == {}
    [association] = properties_of(raw, "AWS::WAFv2::WebACLAssociation").values()
    assert association["WebACLArn"] == mine


def test_opting_out_of_the_web_acl_warns_and_leaves_the_stage_without_one():
    with pytest.warns(SecureDefaultOverridden, match="block_path_traversal=False"):
        raw = synthesized(block_path_traversal=False)
    assert resources_of(raw, "AWS::WAFv2::WebACL") == resources_of(raw, "AWS::WAFv2::WebACLAssociation") == {}


def test_web_acl_props_merge_over_the_default_and_dropping_the_rule_warns():
    raw = synthesized(web_acl_props={"default_action": {"block": {}}})
    [acl] = properties_of(raw, "AWS::WAFv2::WebACL").values()
    assert acl["DefaultAction"] == {"Block": {}} and acl["Rules"][0]["Name"] == PATH_TRAVERSAL_RULE
    with pytest.warns(SecureDefaultOverridden, match=PATH_TRAVERSAL_RULE):
        synthesized(web_acl_props={"rules": []})
    synthesized(web_acl_props={"rules": [path_traversal_rule(), {**path_traversal_rule(1), "name": "Other"}]})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"web_acl": "arn:aws:wafv2:::x", "web_acl_props": {"rules": []}}, "web_acl and web_acl_props both"),
        ({"block_path_traversal": False, "web_acl": "arn:aws:wafv2:::x"}, "drop web_acl and web_acl_props"),
        ({"web_acl_props": {"scope": "CLOUDFRONT"}}, "web_acl_props['scope'] is set by the construct"),
        (
            {"api_props": {"web_acl_arn": "arn:aws:wafv2:::x"}},
            "api_props['web_acl_arn'] is set by the construct",
        ),
    ],
)
def test_contradictory_web_acl_props_fail_at_synth(props, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        synthesized(**props)
