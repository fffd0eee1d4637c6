"""``Custom::S3AutoDeleteObjects`` (``s3.Bucket(auto_delete_objects=True)``), as CDK's handler does it:
nothing on Create; on Delete, if the bucket is tagged ``aws-cdk:auto-delete-objects: true``, a
bucket policy statement denies new writes, then every object version and delete marker is deleted.
A bucket that is already gone is fine; a bucket without the tag is kept as it is (CloudFormation
removes the tag first when only ``auto_delete_objects`` is switched off).

The handler's role has its S3 rights from the bucket policy CDK adds, not from an identity policy,
so each call is authorized against both, as AWS decides within one account, and made to moto.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.service import Provisioned, provisions
from localcloud.core.trace import Span
from localcloud.errors import LocalCloudError
from localcloud.services.cdk.handlers import Handler, built_ins

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

TYPE = "Custom::S3AutoDeleteObjects"
TAG = "aws-cdk:auto-delete-objects"


@provisions(TYPE)
def auto_delete_objects(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    handler = Handler.of(cloud, logical_id, TYPE, props)
    bucket = props.get("BucketName")
    with handler.request("Create", f"s3://{bucket}", as_role=False):
        pass  # the handler does nothing on Create
    built_ins(cloud).on_delete(logical_id, lambda: empty(cloud, handler, bucket))
    return Provisioned(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cloud.stack_name}/{logical_id}")))


def empty(cloud: Kernel, handler: Handler, bucket: str | None) -> None:
    """The Delete event: deny writes, then delete every version of every object, if tagged."""
    with handler.request("Delete", f"s3://{bucket}", as_role=False) as span:
        if not bucket:
            raise LocalCloudError("No BucketName was provided.")
        try:
            if not _tagged(cloud, handler, bucket, span):
                span.detail += f": no {TAG} tag, kept"
                return
            _deny_writes(cloud, handler, bucket, span)
            span.detail += f": {_delete_versions(cloud, handler, bucket, span)} versions deleted"
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
            span.detail += ": the bucket does not exist"


def _arn(cloud: Kernel, bucket: str, key: str | None = None) -> str:
    return f"arn:{cloud.partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _tagged(cloud: Kernel, handler: Handler, bucket: str, span: Span) -> bool:
    handler.authorize("s3:GetBucketTagging", _arn(cloud, bucket), span=span)
    tags = cloud.admin_client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    return any(t["Key"] == TAG and t["Value"] == "true" for t in tags)


def _deny_writes(cloud: Kernel, handler: Handler, bucket: str, span: Span) -> None:
    """Insurance against writes while emptying; a failure here is logged on AWS, not fatal."""
    s3, arn = cloud.admin_client("s3"), _arn(cloud, bucket)
    deny = {"Principal": "*", "Effect": "Deny", "Action": ["s3:PutObject"], "Resource": [f"{arn}/*"]}
    try:
        handler.authorize("s3:GetBucketPolicy", arn, span=span)
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            policy = {"Version": "2012-10-17", "Statement": []}
        policy["Statement"].append(deny)
        handler.authorize("s3:PutBucketPolicy", arn, span=span)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            raise
        span.data["deny_writes"] = str(error)
        return
    cloud.iam.add_resource_policy(arn, {"Statement": [deny]}, f"{handler.logical_id} (emptying)")


def _delete_versions(cloud: Kernel, handler: Handler, bucket: str, span: Span) -> int:
    s3, arn, deleted = cloud.admin_client("s3"), _arn(cloud, bucket), 0
    while True:
        handler.authorize("s3:ListBucketVersions", arn, span=span)
        listed = s3.list_object_versions(Bucket=bucket)
        records = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
        ]
        if not records:
            return deleted
        for record in records:
            handler.authorize("s3:DeleteObjectVersion", _arn(cloud, bucket, record["Key"]), span=span)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": records})
        deleted += len(records)
