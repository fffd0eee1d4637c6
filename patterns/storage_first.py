"""Storage-First: API Gateway stores the request in SQS, DynamoDB or EventBridge before any code runs.

API Gateway validates the body against a JSON-schema model (400 from API Gateway on a bad body) and
hands it straight to an AWS service with a direct service integration: no Lambda function stands
between the caller and the storage, so a failing, throttled or broken processor loses nothing. The
caller gets ``202 {"requestId": ...}`` as soon as the request is stored; an error from the storage
service becomes ``500`` with a short JSON message, never AWS's own error. API Gateway assumes a role
of its own that may write to that one resource only.

A processor function behind the storage validates each request and writes it once into the
``processed`` table (a conditional put keyed on the request id), so a redelivered request is not
written twice. Each variant has its own retry path that ends in an SQS queue, never in a silent drop:

``sqs`` (default)
    API -> SQS (SendMessage, the request id as a message attribute) -> Lambda in batches at a capped
    concurrency with partial batch responses -> dead-letter queue after ``max_receive_count`` receives.
``dynamodb``
    API -> DynamoDB ``requests`` table (PutItem, the raw body and ``received_at``) -> stream of INSERTs
    -> Lambda with bisect-on-error and ``retry_attempts`` -> on-failure queue.
``eventbridge``
    API -> custom event bus (PutEvents, source ``storage-first.api``) -> rule -> Lambda with
    ``retry_attempts`` and ``max_event_age`` -> dead-letter queue; an archive on the bus allows replay.

Example::

    intake = StorageFirst(self, "Intake", target="dynamodb")
    intake.requests_table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar, get_args

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns.defaults import (
    PatternFunction,
    SecureQueue,
    SecureRestApi,
    acknowledge,
    add_sqs_event_source,
    failure_queue,
    grant_send,
    json_model,
    secure_table,
)

_T = TypeVar("_T")

Target = Literal["sqs", "dynamodb", "eventbridge"]
TARGETS: tuple[str, ...] = get_args(Target)

#: The ``source`` of every event the API puts on the bus (eventbridge variant).
EVENT_SOURCE = "storage-first.api"
#: The ``detail-type`` of every event the API puts on the bus (eventbridge variant).
EVENT_DETAIL_TYPE = "Request"
#: Kinds of request the API accepts; the processor checks the same list (functions/storage_first).
REQUEST_TYPES = ("order.placed", "order.cancelled", "feedback.submitted")

REQUEST_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "StorageFirstRequest",
    "type": "object",
    "required": ["type", "payload"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(REQUEST_TYPES)},
        "payload": {"type": "object"},
    },
}

# Defaults of the per-variant props; ``None`` in the signature means "the default, if it applies".
DEFAULT_BATCH_SIZE = 10
DEFAULT_MAX_RECEIVE_COUNT = 3
DEFAULT_MAX_CONCURRENCY = 2
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_MAX_EVENT_AGE = Duration.hours(2)
DEFAULT_ARCHIVE_RETENTION = Duration.days(7)
#: Lambda retries a failed asynchronous invocation at most twice.
MAX_LAMBDA_ASYNC_RETRIES = 2
#: AWS recommends a visibility timeout of at least six times the function timeout for an SQS source.
VISIBILITY_TIMEOUT_FACTOR = 6

#: Which per-variant props each target uses; setting another target's prop is a synth-time error.
_VARIANT_PROPS: dict[str, frozenset[str]] = {
    "sqs": frozenset({"batch_size", "max_receive_count", "max_concurrency"}),
    "dynamodb": frozenset({"batch_size", "retry_attempts"}),
    "eventbridge": frozenset({"retry_attempts", "max_event_age", "archive_retention"}),
}

_ACCEPTED = '{"requestId": "$context.requestId"}'
_STORE_FAILED = (
    '{"message": "The request could not be stored; it was not accepted. Retry later.", '
    '"requestId": "$context.requestId"}'
)
#: An AWS integration selects its response by the service's HTTP status: map every error to 500.
_SERVICE_ERROR = r"4\d{2}|5\d{2}"

# VTL: the request body as a JSON string value (escapeJavaScript escapes ' too, which JSON forbids).
_BODY_AS_JSON_STRING = """$util.escapeJavaScript($input.body).replaceAll("\\\\'", "'")"""


class StorageFirst(Construct):
    """POST /requests stored by API Gateway itself in SQS, DynamoDB or EventBridge, then processed.

    :param target: where API Gateway stores the request: ``"sqs"`` (default), ``"dynamodb"`` or
        ``"eventbridge"``.
    :param processed_table: an existing table with a string partition key ``request_id`` for the
        processed requests; one is created if omitted.
    :param batch_size: records per invocation (sqs, dynamodb); default 10.
    :param max_receive_count: receives before a message moves to the dead-letter queue (sqs); default 3.
    :param max_concurrency: most concurrent processor invocations the queue drives (sqs); default 2.
    :param retry_attempts: retries of a failed batch or event before it goes to the failure queue
        (dynamodb, eventbridge); default 3.
    :param max_event_age: oldest event EventBridge still retries (eventbridge); default 2 hours.
    :param archive_retention: how long the bus archive keeps events for replay (eventbridge);
        default 7 days.
    :param timeout: processor timeout; the queue's visibility timeout is six times this (sqs).
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: Target = "sqs",
        processed_table: dynamodb.ITable | None = None,
        batch_size: int | None = None,
        max_receive_count: int | None = None,
        max_concurrency: int | None = None,
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
        archive_retention: Duration | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
        throttling_rate_limit: float = 100,
        throttling_burst_limit: int = 50,
    ) -> None:
        super().__init__(scope, construct_id)
        if target not in TARGETS:
            raise ValueError(f"{construct_id}: target must be one of {', '.join(TARGETS)}; got {target!r}")
        given = {
            "batch_size": batch_size,
            "max_receive_count": max_receive_count,
            "max_concurrency": max_concurrency,
            "retry_attempts": retry_attempts,
            "max_event_age": max_event_age,
            "archive_retention": archive_retention,
        }
        unused = sorted(
            name for name, value in given.items() if value is not None and name not in _VARIANT_PROPS[target]
        )
        if unused:
            raise ValueError(f"{construct_id}: {', '.join(unused)} does not apply to target={target!r}")
        self.target: Target = target
        timeout = timeout or Duration.seconds(10)

        self.queue: sqs.IQueue | None = None
        self.dead_letter_queue: sqs.IQueue | None = None
        self.requests_table: dynamodb.Table | None = None
        self.event_bus: events.EventBus | None = None
        self.archive: events.Archive | None = None
        self.rule: events.Rule | None = None
        self.event_source: lambda_.EventSourceMapping | sources.DynamoEventSource | None = None

        self.processed_table = processed_table or secure_table(
            self,
            "ProcessedTable",
            partition_key=dynamodb.Attribute(name="request_id", type=dynamodb.AttributeType.STRING),
        )
        handler = {"sqs": "sqs_handler", "dynamodb": "stream_handler", "eventbridge": "event_handler"}[target]
        function_options: dict[str, Any] = {}
        if target == "eventbridge":
            # EventBridge invokes the function asynchronously, so it has a DLQ of its own; the rule's
            # target shares it, so every event that could not be processed ends in one queue.
            self.dead_letter_queue = failure_queue(
                self, "FailedEvents", what="events that failed every retry"
            )
            function_options["dead_letter_queue"] = self.dead_letter_queue
        self.function = PatternFunction(
            self,
            "Processor",
            code_dir="storage_first",
            handler=f"processor.{handler}",
            service="storage_first",
            description=f"Processes requests stored in {target} by API Gateway; writes each one once",
            environment={"PROCESSED_TABLE_NAME": self.processed_table.table_name},
            memory_size=memory_size,
            timeout=timeout,
            **function_options,
        )
        self.processed_table.grant(self.function, "dynamodb:PutItem")

        self.api = SecureRestApi(
            self,
            "Api",
            description=f"Storage-first intake: POST /requests is stored in {target} before any code runs",
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
        )
        self.api_role = iam.Role(
            self,
            "ApiRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"API Gateway stores requests in {target}: one action on one resource",
        )

        if target == "sqs":
            integration = self._sqs(
                timeout=timeout,
                batch_size=_default(batch_size, DEFAULT_BATCH_SIZE),
                max_receive_count=_default(max_receive_count, DEFAULT_MAX_RECEIVE_COUNT),
                max_concurrency=_default(max_concurrency, DEFAULT_MAX_CONCURRENCY),
            )
        elif target == "dynamodb":
            integration = self._dynamodb(
                batch_size=_default(batch_size, DEFAULT_BATCH_SIZE),
                retry_attempts=_default(retry_attempts, DEFAULT_RETRY_ATTEMPTS),
            )
        else:
            integration = self._eventbridge(
                retry_attempts=_default(retry_attempts, DEFAULT_RETRY_ATTEMPTS),
                max_event_age=_default(max_event_age, DEFAULT_MAX_EVENT_AGE),
                archive_retention=_default(archive_retention, DEFAULT_ARCHIVE_RETENTION),
            )

        request_model = json_model(self.api, "RequestModel", REQUEST_SCHEMA)
        self.method = self.api.root.add_resource("requests").add_method(
            "POST",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": request_model},
            method_responses=[
                apigw.MethodResponse(
                    status_code="202", response_models={"application/json": apigw.Model.EMPTY_MODEL}
                ),
                apigw.MethodResponse(
                    status_code="500", response_models={"application/json": apigw.Model.ERROR_MODEL}
                ),
            ],
        )
        acknowledge(
            self.method,
            "AwsSolutions-APIG4",
            "The pattern is a public intake API by design; put an authorizer in front "
            "(see the gatekeeper pattern).",
        )
        acknowledge(
            self.method,
            "AwsSolutions-COG4",
            "No Cognito user pool: the pattern is a public intake API by design; "
            "see the secured SPA pattern.",
        )

    # ----------------------------------------------------------------------------------------- variants

    def _sqs(
        self, *, timeout: Duration, batch_size: int, max_receive_count: int, max_concurrency: int
    ) -> apigw.AwsIntegration:
        inbox = SecureQueue(
            self,
            "Requests",
            max_receive_count=max_receive_count,
            visibility_timeout=Duration.seconds(timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
        )
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue
        grant_send(inbox.queue, self.api_role)
        self.event_source = add_sqs_event_source(
            self.function, inbox.queue, batch_size=batch_size, max_concurrency=max_concurrency
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked by an SQS event source mapping, never asynchronously: failed messages return to the "
            "queue and move to its dead-letter queue after maxReceiveCount receives.",
        )
        template = (
            "Action=SendMessage"
            "&MessageBody=$util.urlEncode($input.body)"
            "&MessageAttribute.1.Name=requestId"
            "&MessageAttribute.1.Value.DataType=String"
            "&MessageAttribute.1.Value.StringValue=$util.urlEncode($context.requestId)"
        )
        return apigw.AwsIntegration(
            service="sqs",
            path=f"{Aws.ACCOUNT_ID}/{inbox.queue.queue_name}",
            integration_http_method="POST",
            options=self._integration_options(
                request_templates={"application/json": template},
                content_type="application/x-www-form-urlencoded",
            ),
        )

    def _dynamodb(self, *, batch_size: int, retry_attempts: int) -> apigw.AwsIntegration:
        self.requests_table = secure_table(
            self,
            "RequestsTable",
            partition_key=dynamodb.Attribute(name="request_id", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        self.requests_table.grant(self.api_role, "dynamodb:PutItem")
        self.dead_letter_queue = failure_queue(
            self, "FailedRecords", what="stream batches that failed every retry"
        )
        self.event_source = sources.DynamoEventSource(
            self.requests_table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=batch_size,
            bisect_batch_on_error=True,
            retry_attempts=retry_attempts,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.dead_letter_queue),
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})],
        )
        self.function.add_event_source(self.event_source)
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked by a DynamoDB stream event source mapping, never asynchronously: failed batches go to "
            "the mapping's on-failure queue.",
        )
        template = (
            "{"
            f'"TableName": "{self.requests_table.table_name}", '
            '"Item": {'
            '"request_id": {"S": "$context.requestId"}, '
            f'"body": {{"S": "{_BODY_AS_JSON_STRING}"}}, '
            '"received_at": {"N": "$context.requestTimeEpoch"}'
            "}, "
            '"ConditionExpression": "attribute_not_exists(request_id)"'
            "}"
        )
        return apigw.AwsIntegration(
            service="dynamodb",
            action="PutItem",
            integration_http_method="POST",
            options=self._integration_options(request_templates={"application/json": template}),
        )

    def _eventbridge(
        self, *, retry_attempts: int, max_event_age: Duration, archive_retention: Duration
    ) -> apigw.AwsIntegration:
        self.event_bus = events.EventBus(self, "Bus", description="Requests stored by the storage-first API")
        self.event_bus.grant_put_events_to(self.api_role)
        pattern = events.EventPattern(source=[EVENT_SOURCE], detail_type=[EVENT_DETAIL_TYPE])
        self.archive = self.event_bus.archive(
            "Archive",
            event_pattern=pattern,
            retention=archive_retention,
            description="Every stored request, for replay (replaying reprocesses them)",
        )
        self.rule = events.Rule(
            self,
            "ProcessRequests",
            event_bus=self.event_bus,
            event_pattern=pattern,
            description="Sends every stored request to the processor",
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=retry_attempts,
                    max_event_age=max_event_age,
                    dead_letter_queue=self.dead_letter_queue,
                )
            ],
        )
        # The target's retry policy and DLQ cover delivery (throttling, a missing function); a failed
        # invocation is Lambda's to retry, then to send to the function's DLQ: the same queue.
        self.function.configure_async_invoke(
            retry_attempts=min(retry_attempts, MAX_LAMBDA_ASYNC_RETRIES), max_event_age=max_event_age
        )
        acknowledge(
            self.function.node.find_child("EventInvokeConfig"),
            "Serverless-LambdaAsyncFailureDestination",
            "A failed invocation goes to the function's dead-letter queue, the same queue as the rule "
            "target's DLQ, so every unprocessed event lands in one queue in one shape (the original event).",
        )
        # The detail carries the API's request id (the processor's idempotency key) and the body as sent.
        entry = (
            "{"
            f'"Source": "{EVENT_SOURCE}", '
            f'"DetailType": "{EVENT_DETAIL_TYPE}", '
            f'"EventBusName": "{self.event_bus.event_bus_name}", '
            '"Detail": "{\\"request_id\\": \\"$context.requestId\\", '
            f'\\"body\\": {_BODY_AS_JSON_STRING}}}"'
            "}"
        )
        # PutEvents answers 200 even when it rejects an entry: check FailedEntryCount before saying 202.
        accepted = (
            "#if($input.path('$.FailedEntryCount') > 0)\n"
            "#set($context.responseOverride.status = 500)\n"
            f"{_STORE_FAILED}\n"
            "#else\n"
            f"{_ACCEPTED}\n"
            "#end"
        )
        return apigw.AwsIntegration(
            service="events",
            action="PutEvents",
            integration_http_method="POST",
            options=self._integration_options(
                request_templates={"application/json": f'{{"Entries": [{entry}]}}'},
                content_type="application/x-amz-json-1.1",
                extra_headers={"X-Amz-Target": "AWSEvents.PutEvents"},
                accepted_template=accepted,
            ),
        )

    def _integration_options(
        self,
        *,
        request_templates: dict[str, str],
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
        accepted_template: str = _ACCEPTED,
    ) -> apigw.IntegrationOptions:
        headers = {**({"Content-Type": content_type} if content_type else {}), **(extra_headers or {})}
        return apigw.IntegrationOptions(
            credentials_role=self.api_role,
            passthrough_behavior=apigw.PassthroughBehavior.NEVER,
            request_parameters={f"integration.request.header.{k}": f"'{v}'" for k, v in headers.items()}
            or None,
            request_templates=request_templates,
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="202", response_templates={"application/json": accepted_template}
                ),
                apigw.IntegrationResponse(
                    status_code="500",
                    selection_pattern=_SERVICE_ERROR,
                    response_templates={"application/json": _STORE_FAILED},
                ),
            ],
        )

    def outputs(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "ApiUrl": self.api.url_for_path("/requests"),
            "ProcessedTableName": self.processed_table.table_name,
        }
        if self.queue is not None:
            values["QueueUrl"] = self.queue.queue_url
        if self.requests_table is not None:
            values["RequestsTableName"] = self.requests_table.table_name
        if self.event_bus is not None:
            values["EventBusName"] = self.event_bus.event_bus_name
        if self.dead_letter_queue is not None:
            values["DeadLetterQueueUrl"] = self.dead_letter_queue.queue_url
        return values


def _default(value: _T | None, default: _T) -> _T:
    return default if value is None else value
