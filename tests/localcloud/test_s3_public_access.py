"""Block Public Access as S3 keeps it: the bucket's settings are put, and with BlockPublicPolicy a
public bucket policy fails the deployment, as it does on AWS; a policy pinned to a source does not."""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from localcloud import LocalCloud, TemplateError

pytestmark = pytest.mark.localcloud
READ = "s3:GetObject"


def bucket_with(stack: Stack, access: s3.BlockPublicAccess, **condition) -> None:
    bucket = s3.Bucket(stack, "Site", block_public_access=access)
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EveryoneReads",
            principals=[iam.AnyPrincipal()],
            actions=[READ],
            resources=[bucket.arn_for_objects("*")],
            conditions=condition or None,
        )
    )
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)


def test_the_settings_are_put_on_the_bucket_and_a_pinned_policy_deploys(synth, run):
    cloud = run(
        synth(
            "PublicAccessPinned",
            lambda stack: bucket_with(
                stack,
                s3.BlockPublicAccess.BLOCK_ALL,
                StringEquals={"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"},
            ),
        )
    )
    bucket = cloud.outputs["BucketName"]
    settings = cloud.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert settings == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert "EveryoneReads" in cloud.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]


def test_a_public_policy_on_a_bucket_that_blocks_them_fails_the_stack(synth):
    artifact = synth("PublicAccessRefused", lambda stack: bucket_with(stack, s3.BlockPublicAccess.BLOCK_ALL))
    with pytest.raises(TemplateError, match=r"public \(statement EveryoneReads.*BlockPublicPolicy"):
        LocalCloud(artifact).start()


def test_a_public_policy_deploys_where_public_policies_are_not_blocked(synth, run):
    cloud = run(
        synth("PublicAccessAllowed", lambda stack: bucket_with(stack, s3.BlockPublicAccess.BLOCK_ACLS))
    )
    settings = cloud.client("s3").get_public_access_block(Bucket=cloud.outputs["BucketName"])
    assert settings["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False
