"""Map Reduce: a word count over every object under an S3 prefix, as a Step Functions Distributed Map.

The workflow's Distributed Map lists the input prefix itself (ItemReader, ``s3:listObjectsV2``),
hands the objects to mapper Lambdas in batches (ItemBatcher), each batch a child workflow execution
(Express: a mapper runs for seconds) whose mapper call is retried with back-off. A batch that still
fails is tolerated up to ``tolerated_failure_percentage`` of the objects, beyond which the Map Run
fails with ``States.ExceedToleratedFailureThreshold``. The children's results are written to the
output bucket by Step Functions (ResultWriter: ``manifest.json``, ``SUCCEEDED_0.json``,
``FAILED_0.json``), not carried through the execution's 256 KiB state; the reducer sums them into
one result object per execution and names every object of every failed batch.

Example::

    count = MapReduce(self, "WordCount", batch_size=50, tolerated_failure_percentage=0)
    count.state_machine.grant_start_execution(nightly_fn)
    count.input_bucket.grant_put(uploader)
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .defaults import (
    LOG_RETENTION,
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    merge_props,
    pattern_function_props,
    secure_bucket,
    secure_state_machine,
)

#: Where the Map Run's result files go in the output bucket, and where the reducer writes counts.
RESULTS_PREFIX = "map-runs"
#: An input prefix the definition can hold as it is (in JSON, and as a Choice's match pattern).
_SAFE_PREFIX = re.compile(r"[A-Za-z0-9!_.()-][A-Za-z0-9!_.()/-]*/")
COUNTS_PREFIX = "counts/"


def _acknowledge_prefix(policy: Construct, bucket: s3.IBucket, prefix: str) -> None:
    child = bucket.node.default_child
    arn = (
        f"<{Stack.of(bucket).get_logical_id(child)}.Arn>"
        if isinstance(child, s3.CfnBucket)
        else bucket.bucket_arn
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "Object actions scoped to one prefix of the bucket; S3 names the objects under a prefix, whose keys "
        "are made at run time, only with a wildcard.",
        applies_to=f"Resource::{arn}/{prefix}*",
    )


class MapReduce(Construct):
    """An input bucket, a Distributed Map of mapper Lambdas, a reducer, and an output bucket.

    :param input_prefix: the prefix whose objects are counted (``input/``); an execution may name a
        folder under it (``{"prefix": "input/2024/"}``).
    :param batch_size: objects per child execution (MaxItemsPerBatch, 1 to 1000; 10).
    :param max_concurrency: child executions at once (1 to 10000; 100).
    :param tolerated_failure_percentage: share of objects whose batch may fail before the Map Run
        fails (0 to 100; 10).
    :param retry_attempts: retries of a failed mapper call inside its child execution (0 to 10; 2).
    :param input_bucket: an existing bucket to read; ``output_bucket`` one to write to.
    :param input_bucket_props: ``secure_bucket`` props of the buckets made here (and ``output_bucket_props``).
    :param functions_props: ``PatternFunction`` props of both functions; ``mapper_props``, ``reducer_props``.
    :param state_machine_props: ``sfn.StateMachine`` props (``timeout``...); the definition is the pattern's.
    :param code_dir: the folder of ``mapper.py``, ``reducer.py`` and ``words.py``; ``functions/map_reduce``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_prefix: str = "input/",
        batch_size: int = 10,
        max_concurrency: int = 100,
        tolerated_failure_percentage: int = 10,
        retry_attempts: int = 2,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        input_bucket_props: Props | None = None,
        output_bucket_props: Props | None = None,
        functions_props: Props | None = None,
        mapper_props: Props | None = None,
        reducer_props: Props | None = None,
        state_machine_props: Props | None = None,
        code_dir: CodeLocation = "map_reduce",
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= batch_size <= 1000:
            raise ValueError(f"{construct_id}: batch_size must be from 1 to 1000")
        if not 1 <= max_concurrency <= 10000:
            raise ValueError(f"{construct_id}: max_concurrency must be from 1 to 10000")
        if not 0 <= tolerated_failure_percentage <= 100:
            raise ValueError(f"{construct_id}: tolerated_failure_percentage must be from 0 to 100")
        if not _SAFE_PREFIX.fullmatch(input_prefix):
            raise ValueError(
                f"{construct_id}: input_prefix must end with '/' and hold only letters, digits and !-_.()/"
            )
        if not 0 <= retry_attempts <= 10:
            raise ValueError(f"{construct_id}: retry_attempts must be from 0 to 10")
        self.input_prefix = input_prefix
        buckets = {
            name: merge_props(
                self,
                f"{name}_props",
                {"removal_policy": RemovalPolicy.RETAIN},
                props,
                existing=(name, given),
            )
            for name, given, props in (
                ("input_bucket", input_bucket, input_bucket_props),
                ("output_bucket", output_bucket, output_bucket_props),
            )
        }
        self.input_bucket = input_bucket or secure_bucket(self, "InputBucket", **buckets["input_bucket"])
        self.output_bucket = output_bucket or secure_bucket(self, "OutputBucket", **buckets["output_bucket"])
        common = {"code_dir": code_dir, "service": "map_reduce"}
        self.mapper = PatternFunction(
            self,
            "Mapper",
            **pattern_function_props(
                self,
                "mapper_props",
                {
                    **common,
                    "handler": "mapper.handler",
                    "description": "Counts the words of one batch of input objects",
                    "timeout": Duration.seconds(60),
                    "environment": {"INPUT_BUCKET_NAME": self.input_bucket.bucket_name},
                },
                mapper_props,
                functions_props=functions_props,
            ),
        )
        self.mapper.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.input_bucket.arn_for_objects(f"{input_prefix}*")]
            )
        )
        self.reducer = PatternFunction(
            self,
            "Reducer",
            **pattern_function_props(
                self,
                "reducer_props",
                {
                    **common,
                    "handler": "reducer.handler",
                    "description": "Sums the Map Run's partial counts into one result object",
                    "timeout": Duration.seconds(60),
                    "environment": {
                        "OUTPUT_BUCKET_NAME": self.output_bucket.bucket_name,
                        "RESULT_PREFIX": COUNTS_PREFIX,
                    },
                },
                reducer_props,
                functions_props=functions_props,
            ),
        )
        self.reducer.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.output_bucket.arn_for_objects(f"{RESULTS_PREFIX}/*")],
            )
        )
        self.reducer.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.output_bucket.arn_for_objects(f"{COUNTS_PREFIX}*")]
            )
        )
        for fn, bucket, prefix in (
            (self.mapper, self.input_bucket, input_prefix),
            (self.reducer, self.output_bucket, f"{RESULTS_PREFIX}/"),
            (self.reducer, self.output_bucket, COUNTS_PREFIX),
        ):
            _acknowledge_prefix(fn.role.node.find_child("DefaultPolicy"), bucket, prefix)
        for fn in (self.mapper, self.reducer):
            acknowledge(
                fn,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by the workflow only: a failure returns to the workflow, which retries "
                "it and records it (the Map Run's FAILED results), so there is no event to dead-letter.",
            )

        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        steps = Construct(self, "Steps")
        # The execution may name a folder under the input prefix ({"prefix": "input/2024/"}); the
        # default is the whole prefix, and anything outside it is refused before a listing.
        defaults = sfn.Pass(
            steps,
            "Defaults",
            parameters={
                "args.$": f'States.JsonMerge(States.StringToJson(\'{{"prefix": "{input_prefix}"}}\'), $, false)'
            },
            output_path="$.args",
        )
        refused = sfn.Fail(
            steps,
            "PrefixRefused",
            error="InvalidPrefix",
            cause=f"prefix must be a string starting with {input_prefix}",
        )
        count_words = sfn.CustomState(
            steps,
            "CountWords",
            state_json=self._map_state(
                batch_size, max_concurrency, tolerated_failure_percentage, retry_attempts
            ),
        )
        reduce = tasks.LambdaInvoke(
            steps,
            "Reduce",
            lambda_function=self.reducer,
            payload=sfn.TaskInput.from_object(
                {"map": sfn.JsonPath.object_at("$.map"), "execution": sfn.JsonPath.execution_name}
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        reduce.add_retry(
            errors=["Lambda.ServiceException", "Lambda.TooManyRequestsException"], max_attempts=3
        )
        self.state_machine = secure_state_machine(
            self,
            "Workflow",
            log_group=self.log_group,
            **merge_props(
                self,
                "state_machine_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(
                        defaults.next(
                            sfn.Choice(steps, "PrefixAllowed?")
                            .when(
                                sfn.Condition.and_(
                                    sfn.Condition.is_string("$.prefix"),
                                    sfn.Condition.string_matches("$.prefix", f"{input_prefix}*"),
                                ),
                                count_words.next(reduce),
                            )
                            .otherwise(refused)
                        )
                    ),
                    "state_machine_type": sfn.StateMachineType.STANDARD,
                    "comment": "Word count: a Distributed Map of mappers over an S3 prefix, then a reducer",
                },
                state_machine_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        self._grant_workflow()

    def _map_state(
        self, batch_size: int, max_concurrency: int, tolerated: int, retry_attempts: int
    ) -> dict[str, Any]:
        mapper_call: dict[str, Any] = {
            "Type": "Task",
            "Resource": self.mapper.function_arn,
            "End": True,
        }
        if retry_attempts:
            mapper_call["Retry"] = [
                {
                    "ErrorEquals": ["States.ALL"],
                    "IntervalSeconds": 2,
                    "BackoffRate": 2,
                    "MaxAttempts": retry_attempts,
                }
            ]
        return {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket": self.input_bucket.bucket_name, "Prefix.$": "$.prefix"},
            },
            "ItemBatcher": {
                "MaxItemsPerBatch": batch_size,
                "BatchInput": {"bucket": self.input_bucket.bucket_name},
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "MapBatch",
                "States": {"MapBatch": mapper_call},
            },
            "MaxConcurrency": max_concurrency,
            "ToleratedFailurePercentage": tolerated,
            "Label": "CountWords",
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": self.output_bucket.bucket_name, "Prefix": RESULTS_PREFIX},
            },
            "ResultPath": "$.map",
        }

    def _grant_workflow(self) -> None:
        """Exactly what the Distributed Map calls, as its role: no CDK task grants these."""
        role = self.state_machine.role
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.mapper.function_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.input_bucket.bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.output_bucket.arn_for_objects(f"{RESULTS_PREFIX}/*")],
            )
        )
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.child_executions_policy = iam.Policy(
            self,
            "ChildExecutions",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]
                ),
                # AWS's least-privilege policy for a Distributed Map: the Map Run describes its children.
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]),
            ],
        )
        stack = Stack.of(self)
        acknowledge(
            self.child_executions_policy,
            "AwsSolutions-IAM5",
            "The Map Run's child executions of this state machine only: their names are made at run time.",
            applies_to="Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"<{stack.get_logical_id(self.state_machine.node.default_child)}.Name>/*",
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Step Functions' log delivery (logs:CreateLogDelivery and its kin) and X-Ray take no resource-level "
            "permissions, so CDK grants them on '*'.",
            applies_to="Resource::*",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "CDK's Lambda task grants the reducer and its versions ('<arn>:*'); the workflow invokes the "
            "unqualified function only.",
            applies_to=f"Resource::<{stack.get_logical_id(self.reducer.node.default_child)}.Arn>:*",
        )
        _acknowledge_prefix(policy, self.output_bucket, f"{RESULTS_PREFIX}/")

    def outputs(self) -> dict[str, Any]:
        return {
            "StateMachineArn": self.state_machine.state_machine_arn,
            "InputBucketName": self.input_bucket.bucket_name,
            "InputPrefix": self.input_prefix,
            "OutputBucketName": self.output_bucket.bucket_name,
            "CountsPrefix": COUNTS_PREFIX,
            "ExecutionLogGroupName": self.log_group.log_group_name,
        }
