"""S3 buckets, bucket policies, and the notification configurations CDK puts with a custom resource.

Notifications stay with the local cloud, which delivers them (see :mod:`localcloud.observers.s3`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import LocalCloudError, TemplateError
from localcloud.services.s3 import observe as notifications
from localcloud.services.s3 import public_access

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: What the notifications handler calls: PutBucketNotificationConfiguration's IAM action.
ACTION = "s3:PutBucketNotification"
#: Regions whose website endpoint is ``s3-website-<region>``; the others use ``s3-website.<region>``.
DASHED_WEBSITE_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
    "us-gov-west-1",
}
#: A bucket's ``NotificationConfiguration`` in CloudFormation's form -> the S3 API's, by list.
_TEMPLATE_LISTS = {
    "LambdaConfigurations": ("LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    "QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn"),
    "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn"),
}


@provisions("AWS::S3::Bucket")
def bucket(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("BucketName") or cloud.physical_name(logical_id, 63).lower()
    s3 = cloud.admin_client("s3")
    options: dict[str, Any] = {}
    if cloud.region != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": cloud.region}
    if _true(props.get("ObjectLockEnabled")):
        options["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(Bucket=name, **options)
    if props.get("Tags"):
        # CDK's built-in custom resources read them (auto-delete-objects, a deployment's ownership).
        tags = [{"Key": tag["Key"], "Value": str(tag["Value"])} for tag in props["Tags"]]
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    if "PublicAccessBlockConfiguration" in props:
        public_access.configure(s3, name, props["PublicAccessBlockConfiguration"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": _true(rule["BucketKeyEnabled"])}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in encryption
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "NotificationConfiguration" in props:
        notifications.configure(
            cloud,
            name,
            _api_form(props["NotificationConfiguration"]),
            replace=True,
            validate=True,
            where=logical_id,
        )
    region = cloud.region
    website = f"s3-website-{region}" if region in DASHED_WEBSITE_REGIONS else f"s3-website.{region}"
    return Provisioned(
        name,
        {
            "Arn": f"arn:{cloud.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.{website}.amazonaws.com",
        },
    )


@provisions("AWS::S3::BucketPolicy")
def bucket_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    document = props["PolicyDocument"]
    public_access.check_policy(cloud.admin_client("s3"), props["Bucket"], document, logical_id)
    cloud.admin_client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(_for_moto(document)))
    cloud.iam.add_resource_policy(f"arn:{cloud.partition}:s3:::{props['Bucket']}", document, logical_id)
    return Provisioned(cloud.physical_name(logical_id, 128))


def _for_moto(document: dict[str, Any]) -> dict[str, Any]:
    """The policy without its TLS-only denials: moto takes every call for plain HTTP and would
    refuse them all, while every call here stands for an HTTPS call (the full policy stays in
    ``cloud.iam``)."""
    kept = [
        s
        for s in document.get("Statement", [])
        if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))
    ]
    return {**document, "Statement": kept}


@provisions("Custom::S3BucketNotifications")
def bucket_notifications(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """What CDK's ``bucket.add_event_notification`` deploys: its handler function is not run here,
    the configuration it would put is taken as is (``Managed: false`` adds to the bucket's own).
    Its role must be allowed ``s3:PutBucketNotification`` on the bucket, or the deployment fails."""
    _authorize_handler(cloud, logical_id, props)
    notifications.configure(
        cloud,
        props["BucketName"],
        props.get("NotificationConfiguration", {}),
        replace=_true(props.get("Managed", "true")),
        validate=not _true(props.get("SkipDestinationValidation")),
        where=logical_id,
    )
    return Provisioned(cloud.physical_name(logical_id, 128))


def _authorize_handler(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> None:
    """What AWS answers the handler's PutBucketNotificationConfiguration: AccessDenied without the grant."""
    if not cloud.enforce_iam:
        return
    try:
        handler = cloud.service("lambda").function(props.get("ServiceToken"))
    except LocalCloudError:
        raise TemplateError(f"{logical_id}: its ServiceToken is not a function of this stack") from None
    bucket_arn = f"arn:{cloud.partition}:s3:::{props['BucketName']}"
    decision = cloud.iam.decide(handler.role_arn, ACTION, bucket_arn)
    if not decision.allowed:
        raise TemplateError(
            f"{logical_id}: AccessDenied: {handler.role_arn} is not authorized to perform: {ACTION} on "
            f"resource: {bucket_arn} {decision.reason}"
        )


def _api_form(template: dict[str, Any]) -> dict[str, Any]:
    """The S3 API's form of a ``NotificationConfiguration`` written the CloudFormation way."""
    configuration: dict[str, Any] = {}
    for template_list, (api_list, template_key, api_key) in _TEMPLATE_LISTS.items():
        configuration[api_list] = [
            {
                "Events": [item["Event"]],
                api_key: item[template_key],
                "Filter": {"Key": {"FilterRules": item.get("Filter", {}).get("S3Key", {}).get("Rules", [])}},
            }
            for item in template.get(template_list, [])
        ]
    if _true(template.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled")):
        configuration["EventBridgeConfiguration"] = {}
    return configuration


def _true(value: Any) -> bool:
    return str(value).lower() == "true"
