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

One construct per storage, over a shared :class:`StorageFirstBase`: :class:`StorageFirstQueue`,
:class:`StorageFirstTable` and :class:`StorageFirstEventBus`; each has only its own props and
attributes. A body larger than the storage takes (the queue's 256 KiB, a 400 KB DynamoDB item,
a 1 MB EventBridge entry) is refused by the storage before anything is stored, and answered
``413`` naming the limit; the processor refuses a body over 256 KiB (``contract.json``) to its
dead-letter queue.

Each resource takes ``<resource>_props`` merged over the house defaults (``merge_props`` in
``defaults.py``), or, for the processed table, an existing one; ``code_dir`` names the processor's
folder, whose ``contract.json`` the construct reads at synth.

Example::

    intake = StorageFirstTable(self, "Intake", retry_attempts=5)
    intake.requests_table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureDefault,
    SecureQueue,
    SecureRestApi,
    StreamFailureQueue,
    acknowledge,
    add_sqs_event_source,
    api_integration_role,
    event_source_queue_props,
    failure_queue,
    grant_send,
    grant_table,
    json_model,
    merge_props,
    pattern_function_props,
    read_contract,
    rest_api_props,
    table_or_new,
    vtl_json_string,
)

#: The ``source`` of every event the API puts on the bus (eventbridge variant).
EVENT_SOURCE = "storage-first.api"
#: The ``detail-type`` of every event the API puts on the bus (eventbridge variant).
EVENT_DETAIL_TYPE = "Request"
#: The request contract the API's model and the processor both read, in the processor's folder:
#: ``request_types`` (the kinds of request the API accepts and the processor checks) and
#: ``max_body_bytes`` (the largest body the processor stores, well inside a 400 KB DynamoDB item;
#: the queue construct's queue takes no larger message, so the API refuses what could never be processed).
CONTRACT_FILE = "contract.json"


def request_contract(code_dir: CodeLocation = "storage_first") -> dict[str, Any]:
    """The request contract from the processor's ``contract.json``, read at synth."""
    return read_contract(code_dir, CONTRACT_FILE, pattern="storage-first construct")


def request_schema(contract: dict[str, Any]) -> dict[str, Any]:
    """The API's request model: a known ``type`` and an object ``payload``, nothing else."""
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "StorageFirstRequest",
        "type": "object",
        "required": ["type", "payload"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": list(contract["request_types"])},
            "payload": {"type": "object"},
        },
    }


DEFAULT_BATCH_SIZE = 10
DEFAULT_MAX_RECEIVE_COUNT = 3
DEFAULT_MAX_CONCURRENCY = 2
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_MAX_EVENT_AGE = Duration.hours(2)
DEFAULT_ARCHIVE_RETENTION = Duration.days(7)
#: Lambda retries a failed asynchronous invocation at most twice.
MAX_LAMBDA_ASYNC_RETRIES = 2

#: The largest request each storage takes.
DYNAMODB_MAX_ITEM_BYTES = 400 * 1024
EVENTBRIDGE_MAX_ENTRY_BYTES = 1_048_576

_ACCEPTED = '{"requestId": "$context.requestId"}'
_STORE_FAILED = (
    '{"message": "The request could not be stored; it was not accepted. Retry later.", '
    '"requestId": "$context.requestId"}'
)
#: An AWS integration selects its response by the service's HTTP status: map every error to 500.
_SERVICE_ERROR = r"4\d{2}|5\d{2}"

# The request body spliced into the inside of a JSON string one level deep: the raw text, stored
# as a string value, and the parsed JSON value, spliced as JSON text. Only the parsed value is JSON
# text: the raw body could carry text after its value (API Gateway does not document whether its
# validator refuses that) which would add keys around it.
_BODY_AS_JSON_STRING = vtl_json_string("$input.body", depth=1)
_BODY_AS_JSON_VALUE = vtl_json_string("$input.json('$')", depth=1)


def _refused_template(too_large: str, limit: str) -> str:
    """The answer to the storage's refusal: 413 naming the limit when it refused the size, else 500.

    ``too_large`` is a phrase of the storage's own refusal of an oversized request; AWS's error is
    read, never passed on."""
    too_large_message = (
        f'{{"message": "body: the request is larger than {limit}; it was not stored.", '
        '"requestId": "$context.requestId"}'
    )
    return (
        f'#if($input.body.contains("{too_large}"))\n'
        "#set($context.responseOverride.status = 413)\n"
        f"{too_large_message}\n"
        "#else\n"
        f"{_STORE_FAILED}\n"
        "#end"
    )


#: A table the pattern reads and writes by ``request_id`` alone: another key would fail every write.
_REQUEST_ID_KEY: dict[str, Any] = {
    "partition_key": dynamodb.Attribute(name="request_id", type=dynamodb.AttributeType.STRING),
    "sort_key": None,
}
#: Lambda's on-failure destinations and DLQs and EventBridge's target DLQs take standard queues only.
_STANDARD_QUEUE = ("fifo",)
#: API Gateway's role may call one action on one resource; a policy given in its props widens it.
API_ROLE_SECURE = tuple(
    SecureDefault(prop, bool, "lets API Gateway call one action on one resource")
    for prop in ("managed_policies", "inline_policies")
)


class StorageFirstBase(Construct):
    """What every storage-first variant shares: ``POST /requests`` validated against the request
    model and stored by API Gateway's own role, and a processor that writes each request once into
    the ``processed`` table. A subclass makes the storage and its integration in :meth:`_store`.

    Each resource takes ``<resource>_props``, the keyword arguments of the CDK construct merged over
    the house defaults (see ``merge_props`` in ``defaults.py``), or an existing resource.

    :param processed_table: an existing table with a string partition key ``request_id`` (and no
        sort key) for the processed requests; one is created if omitted.
    :param processed_table_props: ``dynamodb.Table`` props of the processed table made here; its
        key is the pattern's.
    :param function_props: ``PatternFunction`` props of the processor (``runtime``,
        ``architecture``, ``shared_dir``, ``reserved_concurrent_executions``...).
    :param api_props: ``SecureRestApi`` props (``default_method_options`` for an authorizer...).
    :param api_role_props: ``iam.Role`` props of API Gateway's role (``permissions_boundary``...);
        a policy given here warns, since the role may otherwise call one action on one resource.
    :param code_dir: the folder of ``processor.py`` and ``contract.json``; ``functions/storage_first``
        by default.
    :param timeout: processor timeout (10 s).
    :param memory_size: processor memory, in MB (256).
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429 (100).
    :param throttling_burst_limit: requests the stage accepts at once (50).
    """

    #: Where API Gateway stores requests (for descriptions).
    storage = ""
    #: The processor's entry point in ``processor.py``.
    handler = ""
    #: A phrase of the storage's refusal of an oversized request, and the limit in words.
    too_large = ("", "")
    #: Processor props the variant sets itself, besides the handler.
    function_fixed: tuple[str, ...] = ()

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        processed_table: dynamodb.ITable | None = None,
        processed_table_props: Props | None = None,
        function_props: Props | None = None,
        api_props: Props | None = None,
        api_role_props: Props | None = None,
        code_dir: CodeLocation = "storage_first",
        timeout: Duration | None = None,
        memory_size: int | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.contract = request_contract(code_dir)
        self.processed_table = table_or_new(
            self,
            "ProcessedTable",
            name="processed_table",
            existing=processed_table,
            props=processed_table_props,
            **_REQUEST_ID_KEY,
        )
        processor = pattern_function_props(
            self,
            "function_props",
            {
                "code_dir": code_dir,
                "handler": f"processor.{self.handler}",
                "service": "storage_first",
                "description": f"Processes requests stored in {self.storage} by API Gateway; writes each one once",
                "environment": {"PROCESSED_TABLE_NAME": self.processed_table.table_name},
                "timeout": Duration.seconds(10),
            },
            function_props,
            keywords={"memory_size": ("memory_size", memory_size), "timeout": ("timeout", timeout)},
            fixed=("handler", *self.function_fixed),
        )
        self.timeout: Duration = processor["timeout"]
        self.dead_letter_queue: sqs.IQueue = self._failure_queue()
        self.function = PatternFunction(self, "Processor", **processor, **self._function_options())
        grant_table(self.processed_table, self.function, "dynamodb:PutItem")

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description=f"Storage-first intake: POST /requests is stored in {self.storage} before any code runs",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        self.api_role = api_integration_role(
            self,
            api_role_props,
            description=f"API Gateway stores requests in {self.storage}: one action on one resource",
            secure=API_ROLE_SECURE,
        )
        integration = self._store()

        request_model = json_model(self.api, "RequestModel", request_schema(self.contract))
        self.method = self.api.root.add_resource("requests").add_method(
            "POST",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": request_model},
            method_responses=[
                apigw.MethodResponse(status_code=str(status), response_models={"application/json": model})
                for status, model in (
                    (202, apigw.Model.EMPTY_MODEL),
                    (413, apigw.Model.ERROR_MODEL),
                    (500, apigw.Model.ERROR_MODEL),
                )
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

    # ------------------------------------------------------------------------------ what a variant makes

    def _failure_queue(self) -> sqs.IQueue:
        """The queue where requests that could not be processed end."""
        raise NotImplementedError

    def _function_options(self) -> dict[str, Any]:
        return {}

    def _store(self) -> apigw.AwsIntegration:
        """Make the storage, grant ``self.api_role`` its one action, wire the processor to it, and
        return the integration that stores a request."""
        raise NotImplementedError

    def _integration_options(
        self,
        *,
        request_templates: dict[str, str],
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
        accepted_template: str = _ACCEPTED,
    ) -> apigw.IntegrationOptions:
        headers = {**({"Content-Type": content_type} if content_type else {}), **(extra_headers or {})}
        too_large, limit = self.too_large
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
                    response_templates={"application/json": _refused_template(too_large, limit)},
                ),
            ],
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/requests"),
            "ProcessedTableName": self.processed_table.table_name,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
        }


class StorageFirstQueue(StorageFirstBase):
    """API -> SQS (SendMessage, the request id as a message attribute) -> the processor in batches
    at a capped concurrency with partial batch responses -> dead-letter queue after
    ``max_receive_count`` receives.

    :param batch_size: messages per invocation; default 10.
    :param max_receive_count: receives before a message moves to the dead-letter queue; default 3.
    :param max_concurrency: most concurrent processor invocations the queue drives; default 2.
    :param queue_props: ``SecureQueue`` props of the requests queue (``encryption_master_key``,
        ``retention_period``, ``dead_letter_queue_props``...). Its visibility timeout, six times the
        processor's timeout by default, must cover that timeout. Its maximum message size is the
        contract's ``max_body_bytes``, which the 413 answer names, and it is a standard queue (the
        API's SendMessage carries no message group): both are the pattern's.

    Other props: see :class:`StorageFirstBase`.
    """

    storage = "sqs"
    handler = "sqs_handler"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_receive_count: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        queue_props: Props | None = None,
        **base: Any,
    ) -> None:
        self._batch_size, self._max_concurrency = batch_size, max_concurrency
        self._max_receive_count, self._queue_props = max_receive_count, queue_props
        super().__init__(scope, construct_id, **base)

    @property
    def max_body_bytes(self) -> int:
        """The largest message the queue takes: the contract's ``max_body_bytes``."""
        return int(self.contract["max_body_bytes"])

    @property
    def too_large(self) -> tuple[str, str]:  # type: ignore[override]
        return ("Message must be shorter than", f"the queue's {self.max_body_bytes:,}-byte message")

    def _failure_queue(self) -> sqs.IQueue:
        props = event_source_queue_props(
            self,
            "processor",
            self.timeout,
            {
                "max_receive_count": DEFAULT_MAX_RECEIVE_COUNT,
                # SQS takes 1 MiB; this queue takes what the processor can store, so SQS refuses the
                # rest and the API answers 413 naming this size.
                "max_message_size_bytes": self.max_body_bytes,
            },
            self._queue_props,
            max_receive_count=self._max_receive_count,
            fixed=("max_message_size_bytes", *_STANDARD_QUEUE),
        )
        self.inbox = SecureQueue(self, "Requests", **props)
        self.queue: sqs.IQueue = self.inbox.queue
        return self.inbox.dead_letter_queue

    def _store(self) -> apigw.AwsIntegration:
        grant_send(self.queue, self.api_role)
        self.event_source = add_sqs_event_source(
            self.function, self.queue, batch_size=self._batch_size, max_concurrency=self._max_concurrency
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
            path=f"{Aws.ACCOUNT_ID}/{self.queue.queue_name}",
            integration_http_method="POST",
            options=self._integration_options(
                request_templates={"application/json": template},
                content_type="application/x-www-form-urlencoded",
            ),
        )

    def outputs(self) -> dict[str, Any]:
        return {**super().outputs(), "QueueUrl": self.queue.queue_url}


class StorageFirstTable(StorageFirstBase):
    """API -> DynamoDB ``requests`` table (PutItem, the raw body and ``received_at``) -> stream of
    INSERTs -> the processor with bisect-on-error and ``retry_attempts`` -> on-failure queue.

    :param batch_size: stream records per invocation; default 10.
    :param retry_attempts: retries of a failed batch before it goes to the failure queue; default 3.
    :param requests_table_props: ``dynamodb.Table`` props of the requests table; its key and its
        stream of new images are the pattern's.
    :param dead_letter_queue_props: ``sqs.Queue`` props of the on-failure queue (a standard queue:
        Lambda's on-failure destinations take no FIFO queue).

    Other props: see :class:`StorageFirstBase`.
    """

    storage = "dynamodb"
    handler = "stream_handler"
    too_large = ("Item size has exceeded", f"DynamoDB's {DYNAMODB_MAX_ITEM_BYTES:,}-byte item")

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        requests_table_props: Props | None = None,
        dead_letter_queue_props: Props | None = None,
        **base: Any,
    ) -> None:
        self._batch_size, self._retry_attempts = batch_size, retry_attempts
        self._requests_table_props = requests_table_props
        self._dead_letter_queue_props = dead_letter_queue_props
        super().__init__(scope, construct_id, **base)

    def _failure_queue(self) -> sqs.IQueue:
        props = merge_props(
            self, "dead_letter_queue_props", {}, self._dead_letter_queue_props, fixed=_STANDARD_QUEUE
        )
        return failure_queue(self, "FailedRecords", what="stream batches that failed every retry", **props)

    def _store(self) -> apigw.AwsIntegration:
        self.requests_table = table_or_new(
            self,
            "RequestsTable",
            name="requests_table",
            existing=None,
            props=self._requests_table_props,
            **_REQUEST_ID_KEY,
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        grant_table(self.requests_table, self.api_role, "dynamodb:PutItem")
        self.event_source = sources.DynamoEventSource(
            self.requests_table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=self._batch_size,
            bisect_batch_on_error=True,
            retry_attempts=self._retry_attempts,
            report_batch_item_failures=True,
            on_failure=StreamFailureQueue(self.dead_letter_queue),
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

    def outputs(self) -> dict[str, Any]:
        return {**super().outputs(), "RequestsTableName": self.requests_table.table_name}


class StorageFirstEventBus(StorageFirstBase):
    """API -> custom event bus (PutEvents, source ``storage-first.api``) -> rule -> the processor
    with ``retry_attempts`` and ``max_event_age`` -> dead-letter queue; an archive on the bus
    allows replay.

    :param retry_attempts: retries of an event the rule could not deliver; default 3 (Lambda's own
        retries of a failed invocation are capped at 2).
    :param max_event_age: oldest event EventBridge still retries; default 2 hours.
    :param archive_retention: how long the bus archive keeps events for replay; default 7 days.
    :param event_bus_props: ``events.EventBus`` props of the bus (``kms_key``...).
    :param archive_props: ``events.BaseArchiveProps`` of the archive; it archives what the API stores.
    :param rule_props: ``events.Rule`` props of the rule; its bus, pattern and target are the pattern's.
    :param dead_letter_queue_props: ``sqs.Queue`` props of the dead-letter queue (a standard queue:
        EventBridge and Lambda dead-letter queues cannot be FIFO).

    The processor's dead-letter queue and asynchronous retries are the pattern's: ``function_props``
    cannot set them. Other props: see :class:`StorageFirstBase`.
    """

    storage = "eventbridge"
    handler = "event_handler"
    too_large = ("Total size of the entries", f"EventBridge's {EVENTBRIDGE_MAX_ENTRY_BYTES:,}-byte entry")
    function_fixed = (
        "dead_letter_queue",
        "dead_letter_queue_enabled",
        "dead_letter_topic",
        "retry_attempts",
        "max_event_age",
        "on_failure",
        "on_success",
    )

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        archive_retention: Duration | None = None,
        event_bus_props: Props | None = None,
        archive_props: Props | None = None,
        rule_props: Props | None = None,
        dead_letter_queue_props: Props | None = None,
        **base: Any,
    ) -> None:
        self._retry_attempts, self._max_event_age = retry_attempts, max_event_age
        self._archive_retention, self._archive_props = archive_retention, archive_props
        self._event_bus_props, self._rule_props = event_bus_props, rule_props
        self._dead_letter_queue_props = dead_letter_queue_props
        super().__init__(scope, construct_id, **base)

    def _failure_queue(self) -> sqs.IQueue:
        # EventBridge invokes the function asynchronously, so it has a DLQ of its own; the rule's
        # target shares it, so every event that could not be processed ends in one queue.
        props = merge_props(
            self, "dead_letter_queue_props", {}, self._dead_letter_queue_props, fixed=_STANDARD_QUEUE
        )
        return failure_queue(self, "FailedEvents", what="events that failed every retry", **props)

    def _function_options(self) -> dict[str, Any]:
        return {"dead_letter_queue": self.dead_letter_queue}

    def _store(self) -> apigw.AwsIntegration:
        retry_attempts, max_event_age = self._retry_attempts, self._max_event_age
        self.event_bus = events.EventBus(
            self,
            "Bus",
            **merge_props(
                self,
                "event_bus_props",
                {"description": "Requests stored by the storage-first API"},
                self._event_bus_props,
                fixed=("event_source_name",),
            ),
        )
        self.event_bus.grant_put_events_to(self.api_role)
        pattern = events.EventPattern(source=[EVENT_SOURCE], detail_type=[EVENT_DETAIL_TYPE])
        self.archive = self.event_bus.archive(
            "Archive",
            **merge_props(
                self,
                "archive_props",
                {
                    "event_pattern": pattern,
                    "retention": DEFAULT_ARCHIVE_RETENTION,
                    "description": "Every stored request, for replay (replaying reprocesses them)",
                },
                self._archive_props,
                keywords={"retention": ("archive_retention", self._archive_retention)},
                fixed=("event_pattern",),
            ),
        )
        self.rule = events.Rule(
            self,
            "ProcessRequests",
            **merge_props(
                self,
                "rule_props",
                {
                    "event_bus": self.event_bus,
                    "event_pattern": pattern,
                    "description": "Sends every stored request to the processor",
                    "targets": [
                        targets.LambdaFunction(
                            self.function,
                            retry_attempts=retry_attempts,
                            max_event_age=max_event_age,
                            dead_letter_queue=self.dead_letter_queue,
                        )
                    ],
                },
                self._rule_props,
                fixed=("event_bus", "event_pattern", "targets", "schedule"),
            ),
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
            f'\\"body\\": {_BODY_AS_JSON_VALUE}}}"'
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

    def outputs(self) -> dict[str, Any]:
        return {**super().outputs(), "EventBusName": self.event_bus.event_bus_name}
