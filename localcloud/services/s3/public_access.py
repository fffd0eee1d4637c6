"""A bucket's Block Public Access settings, as S3 keeps and enforces them when the stack deploys.

``PublicAccessBlockConfiguration`` is put on the bucket (``GetPublicAccessBlock`` reads it back).
With ``BlockPublicPolicy``, S3 refuses a bucket policy that is public, so the stack fails on AWS at
its ``AWS::S3::BucketPolicy``; it fails here too. A policy is public when an Allow statement names
every principal (``*`` or ``{"AWS": "*"}``) without a condition that pins the caller to fixed
values (a source ARN, account, VPC or IP range...): AWS's rule, kept to the cases a template writes.
"""

from __future__ import annotations

from typing import Any

from localcloud.errors import TemplateError

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
#: Condition keys whose fixed value makes a statement non-public (AWS's list for S3 policies).
NARROWING_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOwner",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceIp",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgID",
        "aws:userid",
        "s3:DataAccessPointArn",
        "s3:DataAccessPointAccount",
    )
)


def configure(s3: Any, bucket: str, settings: dict[str, Any]) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            flag: str(settings.get(flag, False)).lower() == "true" for flag in FLAGS
        },
    )


def check_policy(s3: Any, bucket: str, document: dict[str, Any], where: str) -> None:
    """Refuse ``document`` on ``bucket`` as S3 does when it is public and public policies are blocked."""
    try:
        settings = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        return
    if not settings.get("BlockPublicPolicy"):
        return
    public = [statement for statement in _statements(document) if _public(statement)]
    if public:
        sid = public[0].get("Sid", "without a Sid")
        raise TemplateError(
            f"{where}: AccessDenied: the policy of bucket {bucket} is public (statement {sid} allows every "
            "principal with no condition on its source), and the bucket's BlockPublicPolicy setting "
            "refuses public policies"
        )


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _public(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    values = _principals(statement.get("Principal"))
    if "*" not in values:
        return False
    fixed = ("stringequals", "arnequals", "arnlike", "ipaddress", "stringlike")
    return not any(
        operator.lower().startswith(fixed) and key.lower() in NARROWING_KEYS and "*" not in str(value)
        for operator, conditions in (statement.get("Condition") or {}).items()
        for key, value in conditions.items()
    )


def _principals(principal: Any) -> list[str]:
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        named = principal.get("AWS", [])
        return [named] if isinstance(named, str) else list(named)
    return []
