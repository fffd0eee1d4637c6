"""House helpers for CloudFront distributions, shared by the web and edge patterns (``spa``,
``regional_api``...): the TLS floor every distribution sets and the cdk-nag findings each one
acknowledges for the same reasons.
"""

from __future__ import annotations

from aws_cdk import aws_cloudfront as cloudfront
from constructs import IConstruct

from .defaults import acknowledge

#: The oldest TLS a viewer may use once the distribution has its own domain and certificate.
MINIMUM_PROTOCOL_VERSION = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021


def acknowledge_distribution(distribution: IConstruct, *, what: str = "A public site") -> None:
    """The distribution-level findings a pattern leaves to its user, each with its prop to change it."""
    acknowledge(
        distribution,
        "AwsSolutions-CFR1",
        f"{what} for every country; add geo_restriction in distribution_props to limit it.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR2",
        "WAF is an account-level choice with a monthly cost; pass web_acl_id in distribution_props.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR3",
        "CloudFront's standard logs need an ACL-enabled bucket (LogDeliveryWrite), which the house buckets "
        "refuse; pass enable_logging and log_bucket in distribution_props to accept that.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR4",
        "The default *.cloudfront.net certificate allows TLSv1; pass domain_names and a certificate "
        "to enforce TLSv1.2_2021 (set here for that case).",
    )
