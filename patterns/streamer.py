"""They say I'm a streamer: API Gateway puts records straight into Kinesis (no Lambda), and Firehose
buffers them into GZIP objects in S3 under a timestamped prefix.

``POST /records/{partitionKey}`` is Kinesis ``PutRecord`` of the body; ``POST /records`` is
``PutRecords`` of ``{"records": [{"partitionKey": ..., "data": {...}}]}``. API Gateway's own role
may put records on the stream and nothing else; each body is checked against a request model first
(400 naming the field). A record is the compact JSON of what was posted and a newline, so the objects
are JSON lines. ``PutRecords`` answers each record's shard and sequence number, or its error code,
and ``failedRecordCount``: Kinesis takes the rest of a request whose records partly fail, so the
caller retries only those. A Firehose delivery stream reads the Kinesis stream with its own role and
writes one GZIP object per ``buffering_size`` or ``buffering_interval``, whichever comes first.

Example::

    clicks = Streamer(self, "Clicks", buffering_interval=Duration.minutes(5))
    clicks.stream.grant_read(analytics_fn)
    clicks.bucket.grant_read(athena_role)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .defaults import (
    Props,
    SecureDefault,
    SecureRestApi,
    acknowledge,
    api_integration_role,
    json_model,
    merge_props,
    rest_api_props,
    secure_bucket,
    vtl_json_string,
)
from .stream_processing import STREAM_DEFAULTS as SHARED_STREAM_DEFAULTS
from .stream_processing import STREAM_SECURE as STREAM_SECURE
from .stream_processing import _check_range, stream_or_new

#: Kinesis's limits on what one request puts: a partition key of 1 to 256 characters, at most 500
#: records a PutRecords call (1 MiB each, 5 MiB in all, partition keys included; Kinesis refuses
#: what is bigger, and the API answers its refusal as a 400).
PARTITION_KEY_LENGTH = (1, 256)
MAX_RECORDS = 500
#: Firehose's buffering hints for S3: 1 to 128 MiB, 0 to 900 seconds.
BUFFERING_SIZE_RANGE = (1, 128)
BUFFERING_INTERVAL_RANGE = (0, 900)
DEFAULT_INTERVAL = Duration.seconds(60)
DEFAULT_PREFIX = "records/!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_ERROR_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
#: What Firehose calls on its source stream (AWS's documented policy for a Kinesis source).
FIREHOSE_SOURCE_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)
#: Writing an object is all Firehose needs to deliver: s3:PutObject also covers the create, part and
#: complete calls of a multipart upload. AWS's sample policy adds AbortMultipartUpload, GetBucketLocation,
#: GetObject, ListBucket and ListBucketMultipartUploads; see the docs page for why they are left out.
FIREHOSE_BUCKET_ACTIONS = ("s3:PutObject",)
#: The parts of a multipart upload Firehose gives up on (it may not abort one) go after a day.
BUCKET_DEFAULTS: Props = {
    "lifecycle_rules": [s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1))]
}
API_ACTIONS = ("kinesis:PutRecord", "kinesis:PutRecords")

#: The house stream defaults, with one shard.
STREAM_DEFAULTS: Props = {**SHARED_STREAM_DEFAULTS, "shard_count": 1}
API_ROLE_SECURE = tuple(
    SecureDefault(prop, bool, "lets API Gateway only put records on the stream")
    for prop in ("managed_policies", "inline_policies")
)
NO_LONE_SURROGATE = "^[^\\ud800-\\udfff]*$"
RECORDS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Records",
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {
        "records": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_RECORDS,
            "items": {
                "type": "object",
                "required": ["partitionKey", "data"],
                "additionalProperties": False,
                "properties": {
                    "partitionKey": {
                        "type": "string",
                        "minLength": PARTITION_KEY_LENGTH[0],
                        "maxLength": PARTITION_KEY_LENGTH[1],
                        "pattern": NO_LONE_SURROGATE,
                    },
                    "data": {"type": "object"},
                },
            },
        }
    },
}
RECORD_SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "title": "Record", "type": "object"}

# A literal newline, so each record ends its line; the data is base64 and cannot break the JSON.
_NEWLINE = '#set($nl = "\n")'
_KEY = vtl_json_string("$input.params('partitionKey')")
_ITEM_KEY = vtl_json_string("$record.partitionKey")
#: Kinesis refusing the record itself (too big, a bad partition key) is the caller's 400; a shard
#: or the stream's key at its limit is a 429 to retry after a pause, as API Gateway's own throttle
#: answers; anything else (the role, the service) a 500 without Kinesis's wording, which names the
#: account.
_CALLER_ERRORS = ("ValidationException", "InvalidArgumentException")
_THROTTLES = ("ProvisionedThroughputExceededException", "KMSThrottlingException")
_MESSAGE = vtl_json_string("$input.path('$.message')")
_ERROR_TEMPLATE = (
    "#set($type = $input.path('$.__type'))\n"
    + "#if("
    + " || ".join(f'$type == "{error}"' for error in _CALLER_ERRORS)
    + ")\n#set($context.responseOverride.status = 400)\n"
    + f'{{"error": "RecordRefused", "message": "{_MESSAGE}"}}\n'
    + "#elseif("
    + " || ".join(f'$type == "{error}"' for error in _THROTTLES)
    + ")\n#set($context.responseOverride.status = 429)\n"
    + '#set($context.responseOverride.header.Retry-After = "1")\n'
    + '{"error": "Throttled", "message": "The stream is at its write limit; retry after a second, '
    'with backoff.", "requestId": "$context.requestId"}\n'
    + "#else\n#set($context.responseOverride.status = 500)\n"
    + '{"error": "ServiceError", "message": "The records could not be stored; retry later.", '
    '"requestId": "$context.requestId"}\n#end'
)
_PUT_RECORD_ANSWER = (
    '{"shardId": "$input.path(\'$.ShardId\')", "sequenceNumber": "$input.path(\'$.SequenceNumber\')"}'
)
_PUT_RECORDS_ANSWER = """{"failedRecordCount": $input.path('$.FailedRecordCount'), "records": [
#foreach($record in $input.path('$.Records'))
#if("$!record.ErrorCode" != ""){"errorCode": "$record.ErrorCode"}#else{"shardId": "$record.ShardId", "sequenceNumber": "$record.SequenceNumber"}#end#if($foreach.hasNext),#end
#end
]}"""


class Streamer(Construct):
    """An API that puts records on a Kinesis stream, delivered by Firehose to S3 as GZIP JSON lines.

    :param buffering_interval: longest a record waits in Firehose before its object is written,
        0 to 900 seconds (60 s).
    :param buffering_size_mib: buffer size that writes an object before the interval, 1 to 128 MiB (1).
    :param prefix: the object key prefix; Firehose expressions (``!{timestamp:yyyy/MM/dd}``) allowed.
    :param error_output_prefix: where Firehose writes records it could not process.
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    :param stream: an existing stream; one is made if omitted (1 shard, KMS with AWS's key, 24 hours).
    :param stream_props: ``kinesis.Stream`` props of the stream made here.
    :param bucket: an existing bucket for the objects; one is made if omitted.
    :param bucket_props: ``s3.Bucket`` props of the bucket made here.
    :param api_props: ``SecureRestApi`` props.
    :param api_role_props: ``iam.Role`` props of API Gateway's role; a policy given here warns, since
        the role may otherwise only put records on the stream.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        buffering_interval: Duration = DEFAULT_INTERVAL,
        buffering_size_mib: int = 1,
        prefix: str = DEFAULT_PREFIX,
        error_output_prefix: str = DEFAULT_ERROR_PREFIX,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        stream: kinesis.IStream | None = None,
        stream_props: Props | None = None,
        bucket: s3.IBucket | None = None,
        bucket_props: Props | None = None,
        api_props: Props | None = None,
        api_role_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        seconds = int(buffering_interval.to_seconds())
        _check_range(construct_id, "buffering_interval (seconds)", seconds, *BUFFERING_INTERVAL_RANGE)
        _check_range(construct_id, "buffering_size_mib", buffering_size_mib, *BUFFERING_SIZE_RANGE)
        if "!{" in prefix and not error_output_prefix:
            raise ValueError(f"{construct_id}: a prefix with expressions needs an error_output_prefix")

        self.stream = stream_or_new(self, stream, stream_props, STREAM_DEFAULTS)
        bucket_merged = merge_props(
            self, "bucket_props", BUCKET_DEFAULTS, bucket_props, existing=("bucket", bucket)
        )
        self.bucket: s3.IBucket = bucket or secure_bucket(self, "Bucket", **bucket_merged)

        self.delivery_role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description="Firehose's role: reads the stream, writes objects to the bucket, nothing else",
        )
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(actions=list(FIREHOSE_SOURCE_ACTIONS), resources=[self.stream.stream_arn])
        )
        if self.stream.encryption_key is not None:
            self.stream.encryption_key.grant(self.delivery_role, "kms:Decrypt")
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=list(FIREHOSE_BUCKET_ACTIONS), resources=[self.bucket.arn_for_objects("*")]
            )
        )
        if self.bucket.encryption_key is not None:
            self.bucket.encryption_key.grant(self.delivery_role, "kms:GenerateDataKey")
        acknowledge(
            self.delivery_role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "Firehose names each object it writes (prefix, date, random suffix), so its one action, "
            "s3:PutObject, is on the bucket's objects, <bucket>/*.",
            applies_to=_objects_finding(self.bucket),
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=self.stream.stream_arn, role_arn=self.delivery_role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=self.delivery_role.role_arn,
                prefix=prefix,
                error_output_prefix=error_output_prefix,
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=seconds, size_in_m_bs=buffering_size_mib
                ),
            ),
        )
        # Firehose checks its role as it creates the stream: the policy must exist first.
        self.delivery_stream.node.add_dependency(self.delivery_role)
        acknowledge(
            self.delivery_stream,
            "AwsSolutions-KDF1",
            "A delivery stream with a Kinesis source takes no server-side encryption of its own (Firehose "
            "refuses it): records are encrypted in the source stream and in the bucket.",
        )

        self.api_role = api_integration_role(
            self,
            api_role_props,
            description="API Gateway's role: may put records on the stream, nothing else",
            secure=API_ROLE_SECURE,
        )
        self.api_role.add_to_policy(
            iam.PolicyStatement(actions=list(API_ACTIONS), resources=[self.stream.stream_arn])
        )
        if self.stream.encryption_key is not None:
            self.stream.encryption_key.grant(self.api_role, "kms:GenerateDataKey")
        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="They say I'm a streamer: POST /records and /records/{partitionKey} into Kinesis",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        records = self.api.root.add_resource("records")
        self._add_method(
            records,
            "PutRecords",
            json_model(self.api, "RecordsModel", RECORDS_SCHEMA),
            self._put_records_template(),
            _PUT_RECORDS_ANSWER,
        )
        self._add_method(
            records.add_resource("{partitionKey}"),
            "PutRecord",
            json_model(self.api, "RecordModel", RECORD_SCHEMA),
            self._put_record_template(),
            _PUT_RECORD_ANSWER,
        )

    def _put_record_template(self) -> str:
        return (
            f"{_NEWLINE}\n"
            f'{{"StreamARN": "{self.stream.stream_arn}", "PartitionKey": "{_KEY}", '
            f'"Data": "$util.base64Encode("$input.json(\'$\')$nl")"}}'
        )

    def _put_records_template(self) -> str:
        return (
            f"{_NEWLINE}\n"
            f'{{"StreamARN": "{self.stream.stream_arn}", "Records": [\n'
            "#foreach($record in $input.path('$.records'))\n"
            '#set($data = $input.json("$.records[$foreach.index].data"))\n'
            f'{{"PartitionKey": "{_ITEM_KEY}", "Data": "$util.base64Encode("$data$nl")"}}'
            "#if($foreach.hasNext),#end\n"
            "#end\n]}"
        )

    def _add_method(
        self, resource: apigw.Resource, action: str, model: apigw.Model, request: str, answer: str
    ) -> None:
        integration = apigw.AwsIntegration(
            service="kinesis",
            action=action,
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.api_role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={"application/json": request},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200", response_templates={"application/json": answer}
                    ),
                    apigw.IntegrationResponse(
                        status_code="500",
                        selection_pattern=r"4\d{2}|5\d{2}",
                        response_templates={"application/json": _ERROR_TEMPLATE},
                    ),
                ],
            ),
        )
        method = resource.add_method(
            "POST",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": model},
            method_responses=[
                apigw.MethodResponse(status_code=str(status)) for status in (200, 400, 429, 500)
            ],
        )
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            "A sample ingestion API without callers to authenticate; put an authorizer in front (see the "
            "gatekeeper pattern) before taking records from anyone but trusted producers.",
        )
        acknowledge(
            method, "AwsSolutions-COG4", "No Cognito user pool in this pattern; see the note on APIG4."
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/records"),
            "StreamName": self.stream.stream_name,
            "DeliveryStreamName": self.delivery_stream.ref,
            "BucketName": self.bucket.bucket_name,
        }


def _objects_finding(bucket: s3.IBucket) -> str | None:
    """cdk-nag's name for a grant on the objects of ``bucket``, when it is made here (else any)."""
    resource = bucket.node.default_child
    if not isinstance(resource, CfnResource):
        return None
    return f"Resource::<{Stack.of(bucket).get_logical_id(resource)}.Arn>/*"
