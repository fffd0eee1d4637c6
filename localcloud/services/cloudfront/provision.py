"""CloudFront resources, kept by ``cloud.cloudfront`` (see :mod:`localcloud.services.cloudfront`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: When every policy and distribution says it was last modified.
_MODIFIED = "2026-01-01T00:00:00Z"


@provisions("AWS::CloudFront::Distribution")
def distribution(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("cloudfront").add_distribution(logical_id, props["DistributionConfig"])
    return Provisioned(created.id, {"Id": created.id, "DomainName": created.domain_name})


@provisions("AWS::CloudFront::Function")
def function(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("cloudfront").add_function(logical_id, props)
    stage = "LIVE" if created.published else "DEVELOPMENT"
    return Provisioned(
        created.arn,
        {"FunctionARN": created.arn, "FunctionMetadata.FunctionARN": created.arn, "Stage": stage},
    )


@provisions("AWS::CloudFront::OriginAccessControl")
def origin_access_control(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("cloudfront").add_access_control(logical_id, props["OriginAccessControlConfig"])
    return Provisioned(created.id, {"Id": created.id})


@provisions("AWS::CloudFront::CloudFrontOriginAccessIdentity")
def origin_access_identity(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    created = cloud.service("cloudfront").add_access_identity(logical_id)
    return Provisioned(created.id, {"Id": created.id, "S3CanonicalUserId": created.canonical_user_id})


@provisions("AWS::CloudFront::CachePolicy")
def cache_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    policy_id = cloud.service("cloudfront").add_policy("cache", logical_id, props["CachePolicyConfig"])
    return Provisioned(policy_id, {"Id": policy_id, "LastModifiedTime": _MODIFIED})


@provisions("AWS::CloudFront::OriginRequestPolicy")
def origin_request_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    policy_id = cloud.service("cloudfront").add_policy(
        "origin-request", logical_id, props["OriginRequestPolicyConfig"]
    )
    return Provisioned(policy_id, {"Id": policy_id, "LastModifiedTime": _MODIFIED})


@provisions("AWS::CloudFront::ResponseHeadersPolicy")
def response_headers_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    policy_id = cloud.service("cloudfront").add_policy(
        "response-headers", logical_id, props["ResponseHeadersPolicyConfig"]
    )
    return Provisioned(policy_id, {"Id": policy_id, "LastModifiedTime": _MODIFIED})
