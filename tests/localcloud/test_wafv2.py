"""AWS WAF web ACLs on API Gateway stages offline: each associated ACL is evaluated before routing,
rules in priority order, with byte matches on the URI path, their text transformations and
positional constraints, And/Or/Not, Block (403 WAF_FILTERED), Allow, Count and the default action."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2

from localcloud import LocalCloud
from localcloud.services.wafv2.web_acl import waf

pytestmark = pytest.mark.localcloud

FORBIDDEN = {"message": "Forbidden"}
VISIBILITY = {"cloudWatchMetricsEnabled": True, "metricName": "m", "sampledRequestsEnabled": True}
DECODE_TWICE = [{"priority": 0, "type": "URL_DECODE"}, {"priority": 1, "type": "URL_DECODE"}]


def byte_match(position: str, text: str, transformations=None) -> dict:
    return {
        "byteMatchStatement": {
            "fieldToMatch": {"uriPath": {}},
            "positionalConstraint": position,
            "searchString": text,
            "textTransformations": transformations or [{"priority": 0, "type": "NONE"}],
        }
    }


def rule(name: str, priority: int, action: str, statement: dict) -> dict:
    return {
        "name": name,
        "priority": priority,
        "action": {action: {}},
        "statement": statement,
        "visibilityConfig": VISIBILITY,
    }


def mock_api(stack: Stack, construct_id: str) -> apigw.RestApi:
    """An API answering 200 on every path and method, with no WAF of its own."""
    api = apigw.RestApi(stack, construct_id, cloud_watch_role=False)
    integration = apigw.MockIntegration(
        request_templates={"application/json": '{"statusCode": 200}'},
        integration_responses=[
            apigw.IntegrationResponse(
                status_code="200", response_templates={"application/json": '{"ok": true}'}
            )
        ],
    )
    options = {"method_responses": [apigw.MethodResponse(status_code="200")]}
    api.root.add_method("ANY", integration, **options)
    api.root.add_resource("{proxy+}").add_method("ANY", integration, **options)
    return api


def build(stack: Stack) -> None:
    guarded = mock_api(stack, "Guarded")
    apigw.Stage(stack, "Unguarded", deployment=guarded.latest_deployment, stage_name="other")
    acl = wafv2.CfnWebACL(
        stack,
        "Acl",
        scope="REGIONAL",
        default_action={"allow": {}},
        visibility_config=VISIBILITY,
        # Listed out of order: priority, not position, decides.
        rules=[
            rule(
                "BlockAdmin",
                1,
                "block",
                byte_match("CONTAINS", "/admin", [{"priority": 0, "type": "LOWERCASE"}]),
            ),
            rule("AllowHealth", 0, "allow", byte_match("STARTS_WITH", "/prod/health")),
            rule("CountBeta", 2, "count", byte_match("ENDS_WITH", ".beta")),
            rule(
                "BlockTraversal",
                3,
                "block",
                {
                    "andStatement": {
                        "statements": [
                            byte_match("CONTAINS", "/../", DECODE_TWICE),
                            {"notStatement": {"statement": byte_match("STARTS_WITH", "/prod/public/")}},
                        ]
                    }
                },
            ),
            rule(
                "BlockExact",
                4,
                "block",
                {
                    "orStatement": {
                        "statements": [
                            byte_match("EXACTLY", "/prod/secret"),
                            byte_match("EXACTLY", "/prod/hidden"),
                        ]
                    }
                },
            ),
            rule("BlockEncodedDot", 5, "block", byte_match("CONTAINS", "%2e")),
        ],
    )
    wafv2.CfnWebACLAssociation(
        stack, "Association", resource_arn=guarded.deployment_stage.stage_arn, web_acl_arn=acl.attr_arn
    )
    closed = mock_api(stack, "Closed")
    closed_acl = wafv2.CfnWebACL(
        stack,
        "ClosedAcl",
        scope="REGIONAL",
        default_action={"block": {}},
        visibility_config=VISIBILITY,
        rules=[rule("AllowOpen", 0, "allow", byte_match("STARTS_WITH", "/prod/open/"))],
    )
    wafv2.CfnWebACLAssociation(
        stack,
        "ClosedAssociation",
        resource_arn=closed.deployment_stage.stage_arn,
        web_acl_arn=closed_acl.attr_arn,
    )


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("WafStack", build)) as running:
        yield running


def blocked_by(cloud: LocalCloud, path: str, *, api: str = "Guarded", stage: str = "prod") -> str | None:
    """The rule that blocked GET ``path`` (``"default"`` for the default action), or None when let through."""
    before = len(cloud.trace.find("waf"))
    answer = cloud.apigateway.client(api, stage=stage).get(path)
    spans = cloud.trace.find("waf")[before:]
    if answer.status == 200:
        assert spans == []
        return None
    assert (answer.status, answer.json(), answer.header("x-amzn-ErrorType")) == (
        403,
        FORBIDDEN,
        "ForbiddenException",
    )
    [span] = spans
    assert span.outcome == "blocked"
    return span.data["rule"] or "default"


def test_a_request_no_rule_matches_gets_the_default_action(cloud):
    assert blocked_by(cloud, "/orders/7") is None
    assert blocked_by(cloud, "/anything", api="Closed") == "default"


def test_byte_match_positions_and_or_statement(cloud):
    assert blocked_by(cloud, "/secret") == "BlockExact"
    assert blocked_by(cloud, "/hidden") == "BlockExact"
    assert blocked_by(cloud, "/secret/more") is None, "EXACTLY is the whole path"
    assert blocked_by(cloud, "/v1/admin/users") == "BlockAdmin", "CONTAINS anywhere"


def test_lowercase_applies_before_the_match(cloud):
    assert blocked_by(cloud, "/v1/ADMIN") == "BlockAdmin"


def test_url_decode_twice_and_none_see_different_paths(cloud):
    assert blocked_by(cloud, "/a/../b") == "BlockTraversal"
    assert blocked_by(cloud, "/a/%2E%2E/b") == "BlockTraversal"
    assert blocked_by(cloud, "/a%2F..%2Fb") == "BlockTraversal"
    assert blocked_by(cloud, "/a/%252e%252e/b") == "BlockTraversal", "decoded twice"
    assert blocked_by(cloud, "/file%2etxt") == "BlockEncodedDot", "NONE matches the path as sent"
    assert blocked_by(cloud, "/file.txt") is None


def test_and_with_not_statement(cloud):
    assert blocked_by(cloud, "/public/../b") is None, "the Not excludes /prod/public/"


def test_rules_run_in_priority_order_and_allow_ends_evaluation(cloud):
    assert blocked_by(cloud, "/health/admin") is None, "AllowHealth (0) decides before BlockAdmin (1)"
    assert blocked_by(cloud, "/open/x", api="Closed") is None


def test_count_notes_a_match_and_evaluation_goes_on(cloud):
    [acl] = [acl for acl in waf(cloud).acls.values() if acl.name == "Acl"]
    before = acl.counted.get("CountBeta", 0)
    assert blocked_by(cloud, "/x.beta") is None
    assert blocked_by(cloud, "/admin.beta") == "BlockAdmin"
    assert blocked_by(cloud, "/a/../x.beta") == "BlockTraversal"
    assert acl.counted["CountBeta"] == before + 2, "counted, then on to BlockTraversal; not /admin.beta"


def test_only_the_associated_stage_is_filtered(cloud):
    assert blocked_by(cloud, "/secret", stage="other") is None
    assert blocked_by(cloud, "/a/../b", stage="other") is None
