"""What makes the single page app: a bucket only its distribution reads, the API on the same
origin, a 403-only fallback to index.html, and two deployments with two caching regimes."""

from __future__ import annotations

import pytest

from tests.infra.conftest import properties_of, resources_of

pytestmark = pytest.mark.infra
STACK = "SpaStack"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


@pytest.fixture(scope="module")
def config(template):
    [props] = properties_of(template, "AWS::CloudFront::Distribution").values()
    return props["DistributionConfig"]


def site_bucket(template) -> str:
    [bucket] = [
        logical_id
        for logical_id, props in properties_of(template, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in props
    ]
    return bucket


def test_only_this_distribution_may_read_the_private_bucket_and_it_may_not_list_it(template):
    bucket = site_bucket(template)
    props = properties_of(template, "AWS::S3::Bucket")[bucket]
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    [policy] = [
        p for p in properties_of(template, "AWS::S3::BucketPolicy").values() if p["Bucket"] == {"Ref": bucket}
    ]
    [allow] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    [distribution] = resources_of(template, "AWS::CloudFront::Distribution")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject", (
        "no s3:ListBucket: a missing key is a 403, which the fallback maps"
    )
    source_arn = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert {"Ref": distribution} in source_arn["Fn::Join"][1], "pinned to this distribution"


def test_the_bucket_origin_signs_with_origin_access_control(template, config):
    [oac] = properties_of(template, "AWS::CloudFront::OriginAccessControl").values()
    assert oac["OriginAccessControlConfig"] | {"Name": None} == {
        "Name": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    s3_origin = next(o for o in config["Origins"] if "S3OriginConfig" in o)
    assert "OriginAccessControlId" in s3_origin and s3_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == s3_origin["Id"]
    assert config["DefaultRootObject"] == "index.html"


def test_the_api_shares_the_origin_uncached_with_everything_but_host_forwarded(config):
    [api] = config["CacheBehaviors"]
    assert api["PathPattern"] == "/items*"
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert {"GET", "POST", "PUT", "DELETE"} <= set(api["AllowedMethods"])
    api_origin = next(o for o in config["Origins"] if o["Id"] == api["TargetOriginId"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_only_a_403_falls_back_to_index_html_so_the_apis_404_stays_its_own(config):
    assert config["CustomErrorResponses"] == [
        {"ErrorCachingMinTTL": 10, "ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html"}
    ]


def test_assets_deploy_immutable_before_a_no_cache_index_html_that_invalidates(template):
    deployments = resources_of(template, "Custom::CDKBucketDeployment")
    by_include = {tuple(d["Properties"].get("Include", [])): (i, d) for i, d in deployments.items()}
    assets_id, assets = by_include[()]
    _, index = by_include[("index.html",)]
    assert assets["Properties"]["Exclude"] == ["index.html"]
    assert assets["Properties"]["SystemMetadata"] == {"cache-control": "public, max-age=31536000, immutable"}
    assert assets["Properties"]["Prune"] is False, "old hashed files stay for pages still open"
    assert "DistributionId" not in assets["Properties"]
    assert index["Properties"]["Exclude"] == ["*"]
    assert index["Properties"]["SystemMetadata"] == {"cache-control": "no-cache"}
    assert "DistributionId" in index["Properties"]
    assert assets_id in index["DependsOn"], "a new index.html never names an asset not yet there"


def test_the_page_behavior_redirects_to_https_and_adds_security_headers(config):
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == "67f7725c-6f97-4210-82d7-5512b31e9d03"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_the_deployment_role_may_read_its_asset_sync_the_site_and_invalidate_only_this_distribution(template):
    [policy] = [
        p
        for i, p in properties_of(template, "AWS::IAM::Policy").items()
        if i.startswith("PatternDeployPolicy")
    ]
    bucket, [distribution] = site_bucket(template), resources_of(template, "AWS::CloudFront::Distribution")
    by_action = {
        tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s["Resource"]
        for s in policy["PolicyDocument"]["Statement"]
    }
    assert set(by_action) == {
        ("s3:GetObject",),
        ("s3:ListBucket",),
        ("s3:PutObject",),
        ("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"),
    }, "no delete: nothing is pruned; no s3:*Object* wildcards as CDK's own grants"
    assert by_action[("s3:GetObject",)]["Fn::Join"][1][-1].endswith(".zip"), "the one asset object"
    assert by_action[("s3:ListBucket",)] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert by_action[("s3:PutObject",)] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]}
    assert {"Ref": distribution} in by_action[
        ("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation")
    ]["Fn::Join"][1]
