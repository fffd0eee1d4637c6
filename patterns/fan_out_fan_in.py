"""Fan-out / fan-in: a splitter hands a job's chunks to workers (Event invokes); the results table fans them in.

The splitter records the job (its chunk count) in a results table keyed by job, then invokes the
worker asynchronously once per chunk. Each worker settles its chunk with one DynamoDB transaction
(the chunk's result, put only if new, and the job's counters) and then tries one conditional write
that finishes the job only when every chunk has settled: exactly one caller finishes a job, with no
polling and no coordinator waiting. Lambda retries a failing chunk and then sends it to a failure
queue, whose recorder settles it as failed, so the job ends ``PARTIAL`` and names it.

Example::

    job = FanOutFanIn(self, "Orders", worker_timeout=Duration.seconds(60))
    job.grant_start(nightly_fn)  # may start jobs; SPLITTER_FUNCTION_NAME in its env
    job.failure_dead_letter_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    async_failure_destination,
    event_source_queue_props,
    grant_invoke_latest,
    grant_table,
    pattern_function_props,
    table_or_new,
)

DEFAULT_MAX_EVENT_AGE = Duration.hours(1)
#: What settling a chunk and finishing a job call: TransactWriteItems needs each item's own action
#: (a Put and an Update), and the finishing write is an UpdateItem.
SETTLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")


class FanOutFanIn(Construct):
    """A splitter, asynchronous workers and a failure recorder around one results table keyed by job.

    :param retry_attempts: Lambda's retries of a failed chunk (0 to 2) before the failure queue.
    :param max_event_age: the oldest chunk event Lambda still tries (1 minute to 6 hours).
    :param worker_timeout: the worker's timeout (30 s).
    :param recorder_max_receive_count: receives of a failure record the recorder could not settle
        before it moves to the failure queue's dead-letter queue (3).
    :param jobs_table: an existing table with string partition key ``job_id`` and string sort key ``part``.
    :param jobs_table_props: ``dynamodb.Table`` props of the table made here.
    :param failure_queue_props: ``SecureQueue`` props of the worker's failure queue (the recorder reads it).
    :param functions_props: ``PatternFunction`` props of every function (``runtime``, ``architecture``,
        ``shared_dir``...); ``splitter_props``, ``worker_props`` and ``recorder_props`` of each.
    :param code_dir: the folder of ``splitter.py``, ``worker.py``, ``recorder.py`` and ``fan_in.py``;
        ``functions/fan_out_fan_in`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        worker_timeout: Duration | None = None,
        recorder_max_receive_count: int | None = None,
        jobs_table: dynamodb.ITable | None = None,
        jobs_table_props: Props | None = None,
        failure_queue_props: Props | None = None,
        functions_props: Props | None = None,
        splitter_props: Props | None = None,
        worker_props: Props | None = None,
        recorder_props: Props | None = None,
        code_dir: CodeLocation = "fan_out_fan_in",
    ) -> None:
        super().__init__(scope, construct_id)
        self.jobs_table = table_or_new(
            self,
            "JobsTable",
            name="jobs_table",
            existing=jobs_table,
            props=jobs_table_props,
            partition_key=dynamodb.Attribute(name="job_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="part", type=dynamodb.AttributeType.STRING),
        )
        function_defaults = {
            "code_dir": code_dir,
            "service": "fan_out_fan_in",
            "environment": {"JOBS_TABLE_NAME": self.jobs_table.table_name},
        }

        self.worker = PatternFunction(
            self,
            "Worker",
            **pattern_function_props(
                self,
                "worker_props",
                {
                    **function_defaults,
                    "handler": "worker.handler",
                    "description": "Totals one chunk of a job and settles it once; the last chunk finishes the job",
                    "timeout": Duration.seconds(30),
                },
                worker_props,
                functions_props=functions_props,
                keywords={"timeout": ("worker_timeout", worker_timeout)},
            ),
        )
        grant_table(self.jobs_table, self.worker, *SETTLE_ACTIONS)

        self.recorder = PatternFunction(
            self,
            "Recorder",
            **pattern_function_props(
                self,
                "recorder_props",
                {
                    **function_defaults,
                    "handler": "recorder.handler",
                    "description": "Settles each chunk that failed every retry as failed, so its job ends partial",
                    "timeout": Duration.seconds(30),
                },
                recorder_props,
                functions_props=functions_props,
            ),
        )
        grant_table(self.jobs_table, self.recorder, *SETTLE_ACTIONS)
        failures = SecureQueue(
            self,
            "Failures",
            **event_source_queue_props(
                self,
                "recorder",
                self.recorder.timeout or Duration.seconds(3),
                {"max_receive_count": 3, "retention_period": Duration.days(14)},
                failure_queue_props,
                max_receive_count=recorder_max_receive_count,
            ),
        )
        self.failure_queue = failures.queue
        self.failure_dead_letter_queue = failures.dead_letter_queue
        async_failure_destination(
            self.worker,
            what="chunks that failed every retry",
            queue=self.failure_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self.event_invoke_config: lambda_.EventInvokeConfig = self.worker.node.find_child("EventInvokeConfig")
        self.failure_event_source = add_sqs_event_source(self.recorder, self.failure_queue, max_concurrency=2)
        acknowledge(
            self.recorder,
            "Serverless-LambdaDLQ",
            "Fed by an SQS event source: a failure it cannot record reaches the queue's dead-letter queue.",
        )

        self.starters: list[lambda_.Function] = []
        self.splitter = PatternFunction(
            self,
            "Splitter",
            **pattern_function_props(
                self,
                "splitter_props",
                {
                    **function_defaults,
                    "handler": "splitter.handler",
                    "description": "Records a job and hands each of its chunks to a worker (InvocationType Event)",
                    "timeout": Duration.seconds(60),
                },
                splitter_props,
                functions_props=functions_props,
            ),
        )
        grant_table(self.jobs_table, self.splitter, "dynamodb:PutItem")
        acknowledge(
            self.splitter,
            "Serverless-LambdaDLQ",
            "Invoked synchronously: it answers once every chunk is queued, or an error to submit the job again.",
        )
        grant_invoke_latest(self.worker, self.splitter)
        self.splitter.add_environment("WORKER_FUNCTION_NAME", self.worker.function_name)

    def grant_start(self, function: lambda_.Function) -> None:
        """Let ``function`` start jobs (invoke the splitter, by its ARN) and name the splitter in its env."""
        grant_invoke_latest(self.splitter, function)
        function.add_environment("SPLITTER_FUNCTION_NAME", self.splitter.function_name)
        self.starters.append(function)

    def outputs(self) -> dict[str, Any]:
        return {
            "SplitterFunctionName": self.splitter.function_name,
            "WorkerFunctionName": self.worker.function_name,
            "RecorderFunctionName": self.recorder.function_name,
            "JobsTableName": self.jobs_table.table_name,
            "FailureQueueUrl": self.failure_queue.queue_url,
            "FailureDeadLetterQueueUrl": self.failure_dead_letter_queue.queue_url,
        }
