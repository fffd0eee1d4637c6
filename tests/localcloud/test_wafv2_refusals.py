"""A web ACL the local cloud cannot evaluate stops the stack from starting, naming what it lacks:
never a silent allow."""

from __future__ import annotations

import re

import pytest
from aws_cdk import Stack
from aws_cdk import aws_wafv2 as wafv2

from localcloud.errors import LocalCloudError
from localcloud.services.wafv2.web_acl import UnsupportedWafConfiguration
from tests.localcloud.test_wafv2 import VISIBILITY, byte_match, mock_api, rule

pytestmark = pytest.mark.localcloud


def acl_stack(*, scope: str = "REGIONAL", statement: dict | None = None, foreign_arn: str | None = None):
    def build(stack: Stack) -> None:
        api = mock_api(stack, "Api")
        acl = wafv2.CfnWebACL(
            stack,
            "Acl",
            scope=scope,
            default_action={"allow": {}},
            visibility_config=VISIBILITY,
            rules=[rule("Only", 0, "block", statement or byte_match("CONTAINS", "x"))],
        )
        wafv2.CfnWebACLAssociation(
            stack,
            "Association",
            resource_arn=api.deployment_stage.stage_arn,
            web_acl_arn=foreign_arn or acl.attr_arn,
        )

    return build


@pytest.mark.parametrize(
    ("name", "statement", "named"),
    [
        ("WafRate", {"rateBasedStatement": {"limit": 100, "aggregateKeyType": "IP"}}, "RateBasedStatement"),
        (
            "WafManaged",
            {
                "managedRuleGroupStatement": {
                    "vendorName": "AWS",
                    "name": "AWSManagedRulesKnownBadInputsRuleSet",
                }
            },
            "ManagedRuleGroupStatement",
        ),
        (
            "WafQuery",
            {
                "byteMatchStatement": {
                    "fieldToMatch": {"queryString": {}},
                    "positionalConstraint": "CONTAINS",
                    "searchString": "x",
                    "textTransformations": [{"priority": 0, "type": "NONE"}],
                }
            },
            "ByteMatchStatement on ['QueryString']",
        ),
        (
            "WafHtml",
            byte_match("CONTAINS", "x", [{"priority": 0, "type": "HTML_ENTITY_DECODE"}]),
            "text transformation HTML_ENTITY_DECODE",
        ),
        ("WafWord", byte_match("CONTAINS_WORD", "x"), "PositionalConstraint CONTAINS_WORD"),
    ],
)
def test_an_unsupported_statement_stops_the_stack_naming_it(synth, run, name, statement, named):
    with pytest.raises(UnsupportedWafConfiguration, match=re.escape(f"rule Only: {named}")) as refused:
        run(synth(name, acl_stack(statement=statement)))
    assert "is not supported offline" in str(refused.value)


def test_a_cloudfront_scoped_acl_cannot_guard_an_api_stage(synth, run):
    with pytest.raises(UnsupportedWafConfiguration, match="Scope: 'CLOUDFRONT'"):
        run(synth("WafCloudFront", acl_stack(scope="CLOUDFRONT")))


def test_an_acl_from_outside_the_template_cannot_be_evaluated_so_it_is_refused(synth, run):
    foreign = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/theirs/1111"
    with pytest.raises(LocalCloudError, match="is not a web ACL of this stack"):
        run(synth("WafForeign", acl_stack(foreign_arn=foreign)))
