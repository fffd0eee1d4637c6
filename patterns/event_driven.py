"""Event driven: an upload bucket notifies a function, which writes its result to an output bucket.

A CSV object created under ``input_prefix`` with ``input_suffix`` in the upload bucket invokes the
transformer asynchronously (S3 notifications are Event invokes). The transformer streams the object
(never holding it in memory), validates every row and writes the rows as JSON lines to the output
bucket, under ``output_prefix``, only when the whole object is valid. An object that cannot be
converted (too large, not UTF-8, a hostile field, a bad row) fails the invocation with a message
naming the bucket, the key and the reason; Lambda retries it and then sends its invocation record
(the S3 event and the error) to the on-failure destination queue. A re-upload of the same content
writes nothing: the output already there has the same MD5 (its ETag), so no new version and no
duplicate event downstream.

The function never triggers itself: by default outputs go to a separate bucket, which has no
notification. Given one bucket for both (``output_bucket=upload_bucket``), the construct refuses
any ``output_prefix`` whose keys the upload filter could match.

Example::

    feed = EventDriven(self, "InventoryFeed", max_object_size=Size.mebibytes(20))
    feed.output_bucket.grant_read(reporting_fn)
    feed.failure_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    async_failure_destination,
    merge_props,
    pattern_function_props,
    secure_bucket,
)

#: The suffix the transformer gives every output key (JSON lines).
OUTPUT_SUFFIX = ".jsonl"
DEFAULT_MAX_OBJECT_SIZE = Size.mebibytes(100)
DEFAULT_MAX_FIELD_SIZE = Size.kibibytes(64)
#: The largest object the construct accepts a cap for: what the default timeout converts comfortably.
MAX_OBJECT_SIZE_LIMIT = Size.gibibytes(1)
DEFAULT_MAX_EVENT_AGE = Duration.hours(1)
#: The singleton function CDK deploys to put a bucket's notification configuration.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def loop_key(input_prefix: str, input_suffix: str, output_prefix: str) -> str | None:
    """An output key the upload filter would match, so writing it would invoke the function again;
    None when no output key can match.

    Output keys are ``output_prefix + <name> + .jsonl``: they can start with ``input_prefix`` when
    one prefix starts with the other, and end with ``input_suffix`` when one suffix ends with the other.

    >>> loop_key("incoming/", ".csv", "validated/") is None
    True
    >>> loop_key("", ".csv", "validated/") is None
    True
    >>> loop_key("data/", "", "data/out/")
    'data/out/name.jsonl'
    """
    prefixes = sorted((input_prefix, output_prefix), key=len)
    suffixes = sorted((input_suffix, OUTPUT_SUFFIX), key=len)
    if not (prefixes[1].startswith(prefixes[0]) and suffixes[1].endswith(suffixes[0])):
        return None
    return f"{prefixes[1]}name{suffixes[1]}"


def same_bucket(first: s3.IBucket | None, second: s3.IBucket | None) -> bool:
    """Whether two given buckets are one: the same object, or names that resolve alike
    (``{"Ref": ...}`` of one resource, or one literal name imported twice)."""
    if first is None or second is None:
        return False
    if first is second:
        return True
    resolve = Stack.of(first).resolve
    return resolve(first.bucket_name) == resolve(second.bucket_name)


def upload_and_output_buckets(
    owner: Construct,
    upload_bucket: s3.IBucket | None,
    upload_bucket_props: Props | None,
    output_bucket: s3.IBucket | None,
    output_bucket_props: Props | None,
) -> tuple[s3.IBucket, s3.IBucket, s3.IBucket | None]:
    """The upload and output buckets, each given or a ``secure_bucket`` made in ``owner``
    (``UploadBucket``, ``OutputBucket``, sharing one access logs bucket), and that logs bucket if made."""
    # secure_bucket sets these itself; for another encryption, say, pass a bucket of your own.
    owned = ("block_public_access", "encryption", "enforce_ssl", "versioned")
    upload_props = merge_props(
        owner,
        "upload_bucket_props",
        {},
        upload_bucket_props,
        existing=("upload_bucket", upload_bucket),
        fixed=owned,
    )
    output_props = merge_props(
        owner,
        "output_bucket_props",
        {},
        output_bucket_props,
        existing=("output_bucket", output_bucket),
        fixed=owned,
    )
    upload = upload_bucket or secure_bucket(owner, "UploadBucket", **upload_props)
    access_logs = owner.node.try_find_child("UploadBucketAccessLogs")
    output = output_bucket or secure_bucket(
        owner,
        "OutputBucket",
        **({"server_access_logs_bucket": access_logs} if access_logs is not None else {}),
        **output_props,
    )
    return upload, output, access_logs or owner.node.try_find_child("OutputBucketAccessLogs")


def acknowledge_prefix_wildcards(
    function: lambda_.Function, who: str, scopes: Iterable[tuple[s3.IBucket, str]]
) -> None:
    """The IAM5 finding on object actions scoped to ``(bucket, prefix)`` pairs, each a wildcard."""
    for bucket, prefix in scopes:
        acknowledge(
            function.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            f"Object actions are scoped to the one prefix the {who} reads or writes; S3 names "
            "objects under a prefix only with a wildcard.",
            applies_to=f"Resource::{_arn_text(bucket)}/{prefix}*",
        )


def acknowledge_notifications_handler(scope: Construct) -> None:
    """CDK's one function per stack that puts bucket notification configurations at deploy time."""
    handler = Stack.of(scope).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
    if handler is None:
        return
    why = "CDK's BucketNotificationsHandler runs only at deploy time, inside CloudFormation"
    role = handler.node.find_child("Role")
    acknowledge(
        role,
        "AwsSolutions-IAM4",
        f"{why}; CDK gives its role AWSLambdaBasicExecutionRole to write its logs.",
        applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        f"{why}; CDK grants s3:PutBucketNotification on '*' as bucket names are only known at deploy.",
        applies_to="Resource::*",
    )


def _arn_text(bucket: s3.IBucket) -> str:
    """A bucket's ARN as cdk-nag writes it in a finding: ``<LogicalId.Arn>`` for one of this stack."""
    child = bucket.node.default_child
    if isinstance(child, s3.CfnBucket):
        return f"<{Stack.of(bucket).get_logical_id(child)}.Arn>"
    return bucket.bucket_arn


class EventDriven(Construct):
    """Upload bucket -> transformer function (async, retried, on-failure queue) -> output bucket.

    :param upload_bucket: an existing bucket to watch; a private, TLS-only, S3-encrypted, versioned
        bucket with access logs is made if omitted (``upload_bucket_props`` are its ``s3.Bucket`` props).
    :param output_bucket: an existing bucket for the JSON lines; one like the upload bucket is made
        if omitted (``output_bucket_props``). It may be ``upload_bucket`` itself when ``output_prefix``
        cannot match the upload filter; any other configuration that would loop is refused.
    :param input_prefix: the key prefix whose objects are converted (the notification's filter).
    :param input_suffix: the key suffix whose objects are converted; ``.csv`` by default.
    :param output_prefix: where outputs go: ``<output_prefix><key without prefix and suffix>.jsonl``.
    :param max_object_size: objects larger than this are refused (reported), never read.
    :param max_field_size: a CSV field longer than this fails the object, and caps each line read.
    :param retry_attempts: Lambda's retries of a failed object (0 to 2) before the failure queue.
    :param max_event_age: the oldest event Lambda still tries (1 minute to 6 hours).
    :param failure_queue: an existing queue for failed objects' records; one is made if omitted
        (``failure_queue_props``).
    :param transformer_props: ``PatternFunction`` props of the transformer (``timeout``,
        ``memory_size``, ``runtime``...).
    :param code_dir: the folder of ``transform.py``; ``functions/event_driven`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        upload_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        input_prefix: str = "incoming/",
        input_suffix: str = ".csv",
        output_prefix: str = "validated/",
        max_object_size: Size = DEFAULT_MAX_OBJECT_SIZE,
        max_field_size: Size = DEFAULT_MAX_FIELD_SIZE,
        retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        failure_queue: sqs.IQueue | None = None,
        upload_bucket_props: Props | None = None,
        output_bucket_props: Props | None = None,
        failure_queue_props: Props | None = None,
        transformer_props: Props | None = None,
        code_dir: CodeLocation = "event_driven",
    ) -> None:
        super().__init__(scope, construct_id)
        path = self.node.path
        if same_bucket(upload_bucket, output_bucket):
            looping = loop_key(input_prefix, input_suffix, output_prefix)
            if looping is not None:
                raise ValueError(
                    f"{path}: output_bucket is the upload bucket and output key {looping!r} matches the "
                    f"upload filter (prefix {input_prefix!r}, suffix {input_suffix!r}): each output would "
                    "invoke the function again, in a loop. Give an output_prefix the filter cannot "
                    "match, or a separate output_bucket"
                )
        if not output_prefix or not output_prefix.endswith("/"):
            raise ValueError(f"{path}: output_prefix must be a folder ending in '/', got {output_prefix!r}")
        if input_prefix and not input_prefix.endswith("/"):
            raise ValueError(f"{path}: input_prefix must be empty or end in '/', got {input_prefix!r}")
        if not 1 <= max_object_size.to_bytes() <= MAX_OBJECT_SIZE_LIMIT.to_bytes():
            raise ValueError(f"{path}: max_object_size must be from 1 byte to 1 GiB")
        if not 1024 <= max_field_size.to_bytes() <= max_object_size.to_bytes():
            raise ValueError(f"{path}: max_field_size must be from 1 KiB to max_object_size")

        self.upload_bucket, self.output_bucket, self.access_logs_bucket = upload_and_output_buckets(
            self, upload_bucket, upload_bucket_props, output_bucket, output_bucket_props
        )

        self.transformer = PatternFunction(
            self,
            "Transformer",
            **pattern_function_props(
                self,
                "transformer_props",
                {
                    "code_dir": code_dir,
                    "service": "event_driven",
                    "handler": "transform.handler",
                    "description": "Streams an uploaded CSV object, validates it, writes it as JSON lines",
                    "timeout": Duration.minutes(2),
                    "memory_size": 512,
                    "environment": {
                        "UPLOAD_BUCKET_NAME": self.upload_bucket.bucket_name,
                        "OUTPUT_BUCKET_NAME": self.output_bucket.bucket_name,
                        "INPUT_PREFIX": input_prefix,
                        "INPUT_SUFFIX": input_suffix,
                        "OUTPUT_PREFIX": output_prefix,
                        "MAX_OBJECT_BYTES": str(int(max_object_size.to_bytes())),
                        "MAX_FIELD_BYTES": str(int(max_field_size.to_bytes())),
                    },
                },
                transformer_props,
            ),
        )
        # Exactly what the transformer calls, on the prefixes it works in: GetObject (with IfMatch)
        # on uploads, ListBucket to compare an existing output's ETag, PutObject for outputs.
        self.transformer.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.upload_bucket.arn_for_objects(f"{input_prefix}*")]
            )
        )
        self.transformer.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.output_bucket.bucket_arn])
        )
        self.transformer.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.output_bucket.arn_for_objects(f"{output_prefix}*")]
            )
        )
        acknowledge_prefix_wildcards(
            self.transformer,
            "transformer",
            ((self.upload_bucket, input_prefix), (self.output_bucket, output_prefix)),
        )
        self.failure_queue = async_failure_destination(
            self.transformer,
            what="uploaded objects that could not be converted, with the S3 event and the reason",
            queue=failure_queue,
            queue_props=failure_queue_props,
            queue_props_name="failure_queue_props",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self.event_invoke_config: lambda_.EventInvokeConfig = self.transformer.node.find_child(
            "EventInvokeConfig"
        )
        self.upload_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(self.transformer),
            s3.NotificationKeyFilter(prefix=input_prefix or None, suffix=input_suffix or None),
        )
        acknowledge_notifications_handler(self)

    def outputs(self) -> dict[str, Any]:
        return {
            "UploadBucketName": self.upload_bucket.bucket_name,
            "OutputBucketName": self.output_bucket.bucket_name,
            "TransformerFunctionName": self.transformer.function_name,
            "FailureQueueUrl": self.failure_queue.queue_url,
        }
