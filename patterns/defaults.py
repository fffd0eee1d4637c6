"""House defaults for every pattern construct: one place, so a fix here fixes every pattern.

Each factory builds a resource that is secure without arguments: encrypted, TLS-only, with a DLQ,
logs with retention, least-privilege roles. A caller may still override a secure default, and is
told so at synth time with a :class:`SecureDefaultOverridden` warning and a CDK warning annotation.

Copying a pattern into another CDK app means copying its module plus this one.

Example::

    fn = PatternFunction(self, "Worker", code_dir="functions/scalable_webhook", handler="worker.handler")
    queue = SecureQueue(self, "Inbox", max_receive_count=5)
    queue.queue.grant_send_messages(fn)
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import Acknowledgment as _Acknowledgment
from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

if TYPE_CHECKING:
    from aws_cdk import aws_s3 as s3

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
SHARED_DIR = PROJECT_ROOT / "shared"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "ServerlessPatterns"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
#: AWS publishes the ARN of its Powertools layer for each runtime and architecture as a public
#: SSM parameter; resolving it at deploy time keeps the layer in the region of the stack.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/arm64/python3.14/latest"
#: Context key that pins an exact Powertools layer ARN instead of the SSM lookup.
POWERTOOLS_LAYER_CONTEXT = "powertools_layer_arn"
#: Files never shipped inside an asset.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", "tests"]


class SecureDefaultOverridden(UserWarning):
    """A construct was asked to weaken one of the house's secure defaults."""


def warn_override(scope: IConstruct, setting: str, why_default: str) -> None:
    """Tell the user, at synth time, that they turned off a secure default."""
    message = f"{scope.node.path}: secure default overridden: {setting}. The default {why_default}."
    warnings.warn(message, SecureDefaultOverridden, stacklevel=3)
    Annotations.of(scope).add_warning_v2("patterns:secure-default-overridden", message)


def acknowledge(resource: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Acknowledge one cdk-nag finding on one resource, with the reason a reviewer needs.

    ``rule`` is the rule cdk-nag prints, such as ``AwsSolutions-IAM5``; the pack prefix is derived
    from it. ``applies_to`` narrows it to one finding of that rule, such as ``Resource::*``.
    Acknowledging on a stack or app would hide findings on future resources, so it is refused.
    """
    if isinstance(resource, Stack) or resource.node.scope is None:
        raise ValueError(f"acknowledge {rule} on a resource, not on the stack or app ({resource.node.path})")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule} on {resource.node.path} needs a reason a reviewer can check")
    pack = rule.split("-", 1)[0]
    finding = f"{pack}::{rule}" + (f"[{applies_to}]" if applies_to else "")
    Validations.of(resource).acknowledge(_Acknowledgment(id=finding, reason=reason))


# --------------------------------------------------------------------------------------------- Lambda


@jsii.implements(ILocalBundling)
class _SharedLayerBundler:
    """Copies ``shared/`` to ``python/shared`` so the runtime finds it on ``/opt/python``."""

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        shutil.copytree(
            SHARED_DIR,
            Path(output_dir) / "python" / "shared",
            ignore=shutil.ignore_patterns(*ASSET_EXCLUDES),
            dirs_exist_ok=True,
        )
        return True


def shared_layer(scope: Construct) -> lambda_.LayerVersion:
    """The project's ``shared/`` runtime package as one layer per stack, built without Docker."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("SharedRuntimeLayer")
    if existing is not None:
        return existing  # type: ignore[return-value]
    return lambda_.LayerVersion(
        stack,
        "SharedRuntimeLayer",
        code=lambda_.Code.from_asset(
            str(SHARED_DIR),
            exclude=ASSET_EXCLUDES,
            asset_hash_type=AssetHashType.SOURCE,
            bundling=BundlingOptions(image=DockerImage.from_registry("scratch"), local=_SharedLayerBundler()),
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="Runtime code shared by the pattern handlers (shared/)",
    )


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """AWS's Powertools layer, pinned by context ``powertools_layer_arn`` or resolved from SSM."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("PowertoolsLayer")
    if existing is not None:
        return existing  # type: ignore[return-value]
    arn = stack.node.try_get_context(
        POWERTOOLS_LAYER_CONTEXT
    ) or ssm.StringParameter.value_for_string_parameter(stack, POWERTOOLS_LAYER_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(stack, "PowertoolsLayer", arn)


class PatternFunction(lambda_.Function):
    """A Lambda function with the house defaults.

    Python on arm64, X-Ray active tracing, its own log group with retention, a role that may only
    write to that log group, Powertools configured through the environment, and the Powertools and
    ``shared/`` layers attached. ``code_dir`` is a folder under ``functions/``; only that folder is
    shipped, so an asset never carries boto3 or the CDK.

    ``sdk_tracing`` turns on Powertools' Tracer (subsegments, annotations, patched boto3). It costs
    about half a second of cold start for the X-Ray SDK import, so it is off by default: active
    tracing still records every invocation and its duration.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: str,
        handler: str,
        service: str | None = None,
        environment: dict[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        sdk_tracing: bool = False,
        tracing: lambda_.Tracing = lambda_.Tracing.ACTIVE,
        log_retention: logs.RetentionDays = LOG_RETENTION,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        source = FUNCTIONS_DIR / code_dir
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if not (source / f"{module}.py").is_file():
            raise ValueError(f"{construct_id}: handler {handler!r} has no file {module}.py in {source}")
        if tracing != lambda_.Tracing.ACTIVE:
            warn_override(scope, f"{construct_id} tracing={tracing}", "records every invocation in X-Ray")
        log_group = logs.LogGroup(
            scope, f"{construct_id}Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id}: logs to its own log group only",
        )
        log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
        env = {
            "POWERTOOLS_SERVICE_NAME": service or Stack.of(scope).stack_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "PATTERN_SDK_TRACING": "true" if sdk_tracing else "false",
            **(environment or {}),
        }
        super().__init__(
            scope,
            construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES),
            handler=handler,
            environment=env,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            tracing=tracing,
            log_group=log_group,
            role=role,
            layers=[powertools_layer(scope), shared_layer(scope)],
            description=description,
            **kwargs,
        )
        self.execution_role = role
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5",
            "Only actions without resource-level permissions use Resource '*': X-Ray's PutTraceSegments "
            "and PutTelemetryRecords, and dynamodb:ListStreams for stream event sources "
            "(tests/infra/test_gates.py holds every stack to that list).",
            applies_to="Resource::*",
        )


# --------------------------------------------------------------------------------------------- SQS


class SecureQueue(Construct):
    """An encrypted, TLS-only SQS queue with its dead-letter queue.

    Messages move to ``dead_letter_queue`` after ``max_receive_count`` failed receives, so a poison
    message never blocks the queue nor retries forever. Pass ``dead_letter_queue`` to share one.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_receive_count: int = 3,
        visibility_timeout: Duration | None = None,
        fifo: bool = False,
        content_based_deduplication: bool | None = None,
        retention_period: Duration | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        encryption: sqs.QueueEncryption = sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_receive_count < 1:
            raise ValueError(f"{construct_id}: max_receive_count must be at least 1")
        if encryption == sqs.QueueEncryption.UNENCRYPTED:
            warn_override(self, "encryption=UNENCRYPTED", "encrypts messages at rest")
        if dead_letter_queue is None:
            dead_letter_queue = failure_queue(
                self,
                "DeadLetterQueue",
                what=f"messages received {max_receive_count} times without success",
                fifo=fifo,
                encryption=encryption,
                encryption_master_key=encryption_master_key,
            )
        self.dead_letter_queue = dead_letter_queue
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            content_based_deduplication=content_based_deduplication,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=max_receive_count
            ),
            encryption=encryption,
            encryption_master_key=encryption_master_key,
            enforce_ssl=True,
            fifo=fifo or None,
        )


def failure_queue(
    scope: Construct,
    construct_id: str,
    *,
    what: str,
    fifo: bool = False,
    encryption: sqs.QueueEncryption = sqs.QueueEncryption.SQS_MANAGED,
    encryption_master_key: kms.IKey | None = None,
) -> sqs.Queue:
    """The queue at the end of a retry path (a DLQ or on-failure destination), kept 14 days.

    ``what`` names what lands here, for the reason on its cdk-nag acknowledgments: a queue that is
    itself the end of the path has no DLQ of its own.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=encryption,
        encryption_master_key=encryption_master_key,
        enforce_ssl=True,
        fifo=fifo or None,
        retention_period=Duration.days(14),
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
        acknowledge(
            queue,
            rule,
            f"This queue is the end of a retry path, for {what}; it is kept 14 days for inspection and redrive.",
        )
    return queue


def add_sqs_event_source(
    function: lambda_.IFunction,
    queue: sqs.Queue,
    *,
    batch_size: int = 10,
    max_concurrency: int | None = 2,
    max_batching_window: Duration | None = None,
) -> event_sources.SqsEventSource:
    """Feed ``function`` from ``queue`` with partial batch responses, so only failed records return.

    The queue must have a dead-letter queue: an SQS event source has no on-failure destination, and
    the redrive policy is what ends a poison message's retries. ``max_concurrency`` caps concurrent
    invocations at the event source, so a burst waits in the queue instead of being throttled.
    """
    if queue.dead_letter_queue is None:
        raise ValueError(f"{queue.node.path}: a queue feeding a function needs a dead-letter queue")
    source = event_sources.SqsEventSource(
        queue,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        max_batching_window=max_batching_window,
        report_batch_item_failures=True,
    )
    function.add_event_source(source)
    mapping = next(c for c in function.node.children if isinstance(c, lambda_.EventSourceMapping))
    acknowledge(
        mapping,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event sources take no on-failure destination; the queue's redrive policy moves failed "
        "messages to its dead-letter queue.",
    )
    return source


#: Lambda's limits for asynchronous invocation: at most 2 retries, events 1 minute to 6 hours old.
MAX_ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_RANGE = (Duration.minutes(1), Duration.hours(6))
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)


def async_failure_destination(
    function: lambda_.Function,
    *,
    what: str,
    queue: sqs.IQueue | None = None,
    retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
    max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
) -> sqs.IQueue:
    """Retry ``function``'s asynchronous events and then send each one that still fails to ``queue``.

    The queue receives Lambda's invocation record: the original event (``requestPayload``), the
    error (``responsePayload``), the condition and the attempt count; a DLQ would keep the event
    alone. A queue is made with :func:`failure_queue` unless one is given (several functions may
    share one). ``what`` says what lands there, for that queue's cdk-nag reasons.
    """
    if not 0 <= retry_attempts <= MAX_ASYNC_RETRY_ATTEMPTS:
        raise ValueError(f"{function.node.path}: retry_attempts must be from 0 to {MAX_ASYNC_RETRY_ATTEMPTS}")
    low, high = MAX_EVENT_AGE_RANGE
    if not low.to_seconds() <= max_event_age.to_seconds() <= high.to_seconds():
        raise ValueError(f"{function.node.path}: max_event_age must be from 1 minute to 6 hours")
    # Imported here, like aws_s3: only stacks with asynchronous functions need it.
    from aws_cdk import aws_lambda_destinations as destinations

    if queue is None:
        queue = failure_queue(function.node.scope, f"{function.node.id}Failures", what=what)
    function.configure_async_invoke(
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        on_failure=destinations.SqsDestination(queue),
    )
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        "Asynchronous failures go to an on-failure destination queue, which keeps the error with the "
        "original event; a DLQ would keep the event alone.",
    )
    return queue


def grant_invoke_latest(function: lambda_.IFunction, grantee: iam.IGrantable) -> iam.Grant:
    """Let ``grantee`` invoke ``function`` by its unqualified ARN ($LATEST) and nothing else.

    CDK's ``grant_invoke`` also grants ``<arn>:*``, every version and alias, which a caller that
    invokes $LATEST never needs and which cdk-nag flags as a wildcard (AwsSolutions-IAM5).
    """
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=["lambda:InvokeFunction"], resource_arns=[function.function_arn]
    )


# --------------------------------------------------------------------------------------------- DynamoDB


def secure_table(
    scope: Construct,
    construct_id: str,
    *,
    partition_key: dynamodb.Attribute,
    sort_key: dynamodb.Attribute | None = None,
    point_in_time_recovery: bool = True,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    **kwargs: Any,
) -> dynamodb.Table:
    """An on-demand, encrypted DynamoDB table with point-in-time recovery."""
    if not point_in_time_recovery:
        warn_override(scope, f"{construct_id} point_in_time_recovery=False", "allows restore to any second")
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=partition_key,
        sort_key=sort_key,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=point_in_time_recovery
        ),
        removal_policy=removal_policy,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------- S3


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    server_access_logs_bucket: s3.IBucket | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    **kwargs: Any,
) -> s3.Bucket:
    """A private, encrypted, TLS-only bucket that logs its access to a companion log bucket."""
    # Imported here: aws_s3 costs about 60 ms of every synth, and only stacks with buckets need it.
    from aws_cdk import aws_s3 as s3

    if server_access_logs_bucket is None:
        server_access_logs_bucket = s3.Bucket(
            scope,
            f"{construct_id}AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=removal_policy,
        )
        acknowledge(
            server_access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket receives the access logs of its companion bucket; logging it would recurse.",
        )
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=server_access_logs_bucket,
        removal_policy=removal_policy,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------- SNS


def secure_topic(
    scope: Construct, construct_id: str, *, master_key: kms.IKey | None = None, **kwargs: Any
) -> sns.Topic:
    """A TLS-only topic encrypted with ``master_key``, or with a key of its own by default.

    A customer-managed key (not ``alias/aws/sns``) lets other services such as EventBridge or S3
    publish once they are granted the key.
    """
    if master_key is None:
        master_key = kms.Key(
            scope, f"{construct_id}Key", enable_key_rotation=True, description=f"{construct_id}"
        )
    return sns.Topic(scope, construct_id, master_key=master_key, enforce_ssl=True, **kwargs)


# --------------------------------------------------------------------------------------------- API Gateway


class SecureRestApi(apigw.RestApi):
    """A regional REST API with JSON access logs, X-Ray, stage throttling and a body validator.

    ``self.body_validator`` validates request bodies against a method's model; attach it with
    ``request_validator=api.body_validator``. The throttle protects everything behind the API: it
    is the first line of the webhook and storage-first patterns.

    ``stage_variables`` are the stage's variables (``${stageVariables.name}`` in integration URIs):
    changing one updates the stage in place, where a changed integration URI would need a new
    deployment of the API to take effect.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        throttling_rate_limit: float = 100,
        throttling_burst_limit: int = 50,
        stage_name: str = "prod",
        cloud_watch_role: bool = True,
        stage_variables: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        access_logs = logs.LogGroup(
            scope, f"{construct_id}AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        super().__init__(
            scope,
            construct_id,
            description=description,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=cloud_watch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                variables=stage_variables,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
            **kwargs,
        )
        self.access_log_group = access_logs
        self.body_validator = self.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        # AWS's default 400 says only "Invalid request body"; a client deserves to know what is wrong.
        self.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            templates={"application/json": _BAD_BODY_TEMPLATE},
        )
        if cloud_watch_role:
            acknowledge(
                self.node.find_child("CloudWatchRole"),
                "AwsSolutions-IAM4",
                "API Gateway's account-level logging role uses AWS's AmazonAPIGatewayPushToCloudWatchLogs "
                "policy, the documented setup for access and execution logs.",
                applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )
        acknowledge(
            self.deployment_stage,
            "AwsSolutions-APIG3",
            "WAF is an account-level choice with a monthly cost; attach a web ACL to this stage to add it.",
        )


_BAD_BODY_TEMPLATE = '{"message": "Invalid request body: $context.error.validationErrorString"}'


def json_model(
    api: apigw.RestApi, construct_id: str, schema: dict[str, Any], name: str | None = None
) -> apigw.Model:
    """A JSON-schema request model; API Gateway answers 400 with its message when a body breaks it."""
    return api.add_model(
        construct_id,
        content_type="application/json",
        model_name=name,
        schema=apigw.JsonSchema(**_json_schema_kwargs(schema)),
    )


def _json_schema_kwargs(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate a plain JSON-schema dict into ``apigw.JsonSchema`` keyword arguments."""
    renamed = {
        "$schema": "schema",
        "type": "type",
        "additionalProperties": "additional_properties",
        "minLength": "min_length",
        "maxLength": "max_length",
        "minimum": "minimum",
        "maximum": "maximum",
        "minItems": "min_items",
        "maxItems": "max_items",
        "minProperties": "min_properties",
        "pattern": "pattern",
        "enum": "enum",
        "required": "required",
        "format": "format",
        "title": "title",
        "description": "description",
    }
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$schema":
            out["schema"] = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            out["type"] = apigw.JsonSchemaType[value.upper()]
        elif key == "properties":
            out["properties"] = {k: apigw.JsonSchema(**_json_schema_kwargs(v)) for k, v in value.items()}
        elif key == "items":
            out["items"] = apigw.JsonSchema(**_json_schema_kwargs(value))
        elif key == "additionalProperties" and isinstance(value, dict):
            out["additional_properties"] = apigw.JsonSchema(**_json_schema_kwargs(value))
        elif key in renamed:
            out[renamed[key]] = value
        else:
            raise ValueError(f"JSON-schema keyword {key!r} is not supported by json_model")
    return out


def vtl_json_string(expression: str, depth: int = 1) -> str:
    """VTL printing ``expression`` as the inside of a JSON string that sits ``depth`` strings deep.

    Each level of nesting needs its own escape: a value inside a JSON string that is itself inside
    a JSON string (Step Functions' ``input``, EventBridge's ``Detail``) is escaped twice, so no
    request value can close a string and add keys at any level. ``$util.escapeJavaScript`` also
    escapes ``'`` as ``\\'``, which JSON refuses, so each escape puts ``'`` back.
    ``docs/architecture.md`` states the rule; ``tests/e2e/test_vtl_injection.py`` checks every template.
    """
    if depth < 1:
        raise ValueError(f"depth must be 1 or more; got {depth}")
    for _ in range(depth):
        expression = f"""$util.escapeJavaScript({expression}).replaceAll("\\\\'", "'")"""
    return expression
