"""Scalable Webhook: API -> receiver Lambda -> SQS (+DLQ) -> worker Lambda at capped concurrency -> DynamoDB.

A webhook sender expects a fast answer and may send bursts no downstream store could absorb. The
receiver only validates and enqueues (202); the queue absorbs the burst; the worker drains it with
at most ``max_concurrency`` concurrent invocations (the SQS event source's own cap, so excess
messages wait in the queue instead of being throttled and retried). Failed records are retried
alone (partial batch responses) and reach the dead-letter queue after ``max_receive_count``
receives; duplicates are written once.

Example::

    hook = ScalableWebhook(self, "Payments", max_concurrency=5)
    hook.dead_letter_queue.metric_approximate_number_of_messages_visible().create_alarm(...)

Senders sign each call: ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``
with the Unix time in ``X-Webhook-Timestamp``; the receiver answers 401 to a missing or wrong
signature or a timestamp more than ``signature_tolerance`` from now, before anything is queued. The
secret is a Secrets Manager secret this construct generates, or ``signing_secret`` of yours.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    SecureRestApi,
    acknowledge,
    add_sqs_event_source,
    event_source_queue_props,
    grant_send,
    grant_table,
    json_model,
    pattern_function_props,
    read_contract,
    rest_api_props,
    table_or_new,
)

#: The webhook contract both sides read, in the handlers' folder: API Gateway's request model here,
#: the signature scheme and the handlers' checks there.
CONTRACT_FILE = "webhook_contract.json"
#: The method metadata the local cloud reads to sign its printed Try line (localcloud.signed_lines).
SIGNED_REQUEST_METADATA = "localcloud:signed-request"
#: How long the receiver keeps the signing secret before reading it again (a rotation's delay).
SECRET_MAX_AGE = Duration.minutes(5)


def webhook_contract(code_dir: CodeLocation = "scalable_webhook") -> dict[str, Any]:
    """The webhook contract from the handlers' ``webhook_contract.json``, read at synth."""
    return read_contract(code_dir, CONTRACT_FILE, pattern="scalable webhook")


class ScalableWebhook(Construct):
    """Webhook endpoint that accepts bursts and processes them at a pace you choose.

    :param max_concurrency: most worker invocations at once (2 to 1000); the throttle on the store.
    :param batch_size: messages per worker invocation.
    :param max_batching_window: how long SQS may wait to fill a batch (cost versus latency).
    :param max_receive_count: receives before a message moves to the dead-letter queue (3).
    :param worker_timeout: the worker's timeout (30 s); the queue's visibility timeout is six times it.
    :param table: an existing table with string partition key ``id``; one is created if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param queue_props: ``SecureQueue`` props of the inbox (``encryption_master_key``,
        ``dead_letter_queue_props``...); its visibility timeout must cover the worker's timeout.
    :param functions_props: ``PatternFunction`` props of both functions (``runtime``, ``architecture``,
        ``shared_dir``...); ``receiver_props`` and ``worker_props`` of each.
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of ``receiver.py``, ``worker.py`` and ``webhook_contract.json``;
        ``functions/scalable_webhook`` by default.
    :param signing_secret: the secret senders sign with (a plain string); one is generated if omitted.
    :param signature_tolerance: how far a signed timestamp may be from now (replays older are refused).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_concurrency: int = 2,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_receive_count: int | None = None,
        worker_timeout: Duration | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        receiver_props: Props | None = None,
        worker_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "scalable_webhook",
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        signing_secret: secretsmanager.ISecret | None = None,
        signature_tolerance: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 2 <= max_concurrency <= 1000:
            raise ValueError(
                f"{construct_id}: max_concurrency must be from 2 to 1000 (SQS event source limit)"
            )
        if not 1 <= batch_size <= 10_000:
            raise ValueError(f"{construct_id}: batch_size must be from 1 to 10000")
        if batch_size > 10 and max_batching_window is None:
            raise ValueError(f"{construct_id}: a batch_size over 10 needs a max_batching_window")
        contract = webhook_contract(code_dir)
        self._signature = contract["signature"]
        tolerance = signature_tolerance or Duration.seconds(contract["signature"]["tolerance_seconds"])
        if not 1 <= tolerance.to_seconds() <= 3600:
            raise ValueError(f"{construct_id}: signature_tolerance must be from 1 s to 1 hour")
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        function_defaults = {"code_dir": code_dir, "service": "scalable_webhook"}
        worker = pattern_function_props(
            self,
            "worker_props",
            {
                **function_defaults,
                "handler": "worker.handler",
                "description": "Stores queued webhooks once each, reporting failed records alone",
                "timeout": Duration.seconds(30),
                "environment": {"TABLE_NAME": self.table.table_name},
            },
            worker_props,
            functions_props=functions_props,
            keywords={"timeout": ("worker_timeout", worker_timeout)},
        )
        worker_timeout = worker["timeout"]

        inbox_props = event_source_queue_props(
            self,
            "worker",
            worker_timeout,
            {"max_receive_count": 3},
            queue_props,
            max_receive_count=max_receive_count,
        )
        inbox = SecureQueue(self, "Inbox", **inbox_props)
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue

        self.signing_secret = signing_secret or secretsmanager.Secret(
            self,
            "SigningSecret",
            description="Shared secret webhook senders sign calls with (HMAC-SHA256); give it to the sender",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
        )
        if signing_secret is None:
            acknowledge(
                self.signing_secret,
                "AwsSolutions-SMG4",
                "The sender holds a copy of this secret: rotating it is a change made with the sender "
                "(set the new value on both sides), not a Lambda rotation schedule.",
            )

        self.receiver = PatternFunction(
            self,
            "Receiver",
            **pattern_function_props(
                self,
                "receiver_props",
                {
                    **function_defaults,
                    "handler": "receiver.handler",
                    "description": "Checks a webhook's signature, validates and enqueues it; answers 202",
                    "environment": {
                        "QUEUE_URL": self.queue.queue_url,
                        "SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
                        "SIGNATURE_TOLERANCE_SECONDS": str(int(tolerance.to_seconds())),
                        "SECRET_MAX_AGE_SECONDS": str(int(SECRET_MAX_AGE.to_seconds())),
                    },
                },
                receiver_props,
                functions_props=functions_props,
            ),
        )
        grant_send(self.queue, self.receiver)
        self._grant_secret_read(self.receiver)

        self.worker = PatternFunction(self, "Worker", **worker)
        grant_table(self.table, self.worker, "dynamodb:PutItem")
        self.event_source = add_sqs_event_source(
            self.worker,
            self.queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
        )

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Scalable webhook: POST /webhooks",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                default_rate_limit=500,
                default_burst_limit=250,
            ),
        )
        webhooks = self.api.root.add_resource("webhooks")
        method = webhooks.add_method(
            "POST",
            apigw.LambdaIntegration(self.receiver),
            request_validator=self.api.body_validator,
            request_models={
                "application/json": json_model(self.api, "WebhookModel", contract["event_schema"])
            },
        )
        self._describe_signature(method)
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            "Webhook senders are third parties without AWS credentials: the receiver verifies each call's "
            "HMAC signature and timestamp and answers 401 before anything is queued.",
        )
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "Webhook senders are machines without Cognito identities; see the note on APIG4.",
        )
        acknowledge(
            self.receiver,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: a failure returns to the sender, who retries.",
        )
        acknowledge(
            self.worker,
            "Serverless-LambdaDLQ",
            "Fed by an SQS event source: failed messages reach the queue's dead-letter queue via its redrive policy.",
        )

    def _grant_secret_read(self, function: PatternFunction) -> None:
        """``GetSecretValue`` on the signing secret only (CDK's ``grant_read`` adds ``DescribeSecret``)."""
        secret = self.signing_secret
        # A secret known by name only has a partial ARN: Secrets Manager appends six characters.
        arn = secret.secret_full_arn or f"{secret.secret_arn}-??????"
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[arn])
        )
        if secret.encryption_key is not None:
            secret.encryption_key.grant_decrypt(function)

    def _describe_signature(self, method: apigw.Method) -> None:
        """Say in the method's metadata how a call is signed, so the local cloud's ``serve`` prints
        a Try line that signs with the served secret (CloudFormation ignores the metadata)."""
        signature = self._signature
        method.node.default_child.add_metadata(  # type: ignore[union-attr]
            SIGNED_REQUEST_METADATA,
            {
                "algorithm": "HMAC-SHA256",
                "secret": self.signing_secret.secret_arn,
                "message": "{timestamp}.{body}",
                "headers": {
                    signature["timestamp_header"]: "{timestamp}",
                    signature["signature_header"]: f"{signature['prefix']}{{signature}}",
                },
            },
        )

    def output_descriptions(self) -> dict[str, str]:
        """How a sender signs a call: the receiver answers 401 to anything else."""
        signature = self._signature
        return {
            "WebhookUrl": (
                f"POST JSON signed with the SigningSecretArn secret: {signature['timestamp_header']}: "
                f"<unix seconds>, {signature['signature_header']}: {signature['prefix']}<hex HMAC-SHA256 "
                'of "<timestamp>.<body>">'
            )
        }

    def outputs(self) -> dict[str, Any]:
        return {
            "WebhookUrl": self.api.url_for_path("/webhooks"),
            "QueueUrl": self.queue.queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "TableName": self.table.table_name,
            "SigningSecretArn": self.signing_secret.secret_arn,
        }
