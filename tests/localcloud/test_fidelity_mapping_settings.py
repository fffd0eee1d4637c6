"""An event source mapping's numbers outside what Lambda takes are refused, through the API
(CreateEventSourceMapping, UpdateEventSourceMapping) and in a template (the deployment fails, naming
the resource), as Lambda refuses them; moto and the pollers took them.

- Outside the ranges of botocore's model (``BatchSize`` 1 to 10,000, ``MaximumBatchingWindowInSeconds``
  0 to 300, ``ParallelizationFactor`` 1 to 10, ``MaximumRecordAgeInSeconds`` -1 to 604,800,
  ``MaximumRetryAttempts`` -1 to 10,000, ``TumblingWindowInSeconds`` 0 to 900): Lambda's request
  validation, a ``ValidationException`` listing each problem ("1 validation error detected: Value '0'
  at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater
  than or equal to 1", recorded from AWS in localstack's Lambda snapshots). Through the SDK, a value
  under the minimum never leaves botocore (``ParamValidationError``), as with AWS.
- ``MaximumRecordAgeInSeconds`` from 0 to 59: "MaximumRecordAgeInSeconds must be either -1 (forever)
  or between 60 and 604800 (inclusive)" (``InvalidParameterValueException``, quoted from Lambda's
  answer in terraform-provider-aws#16113).
- An SQS mapping with a stream's settings (retries, record age, parallelization, tumbling windows):
  refused (serverless#7762: SQS takes no ``MaximumRetryAttempts``); with a ``BatchSize`` over 10 and no
  batching window: "Maximum batch window in seconds must be greater than 0 if maximum batch size is
  greater than 10" (localstack's SQS mapping snapshot).
"""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError, ParamValidationError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

RECORD_AGE = "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"
SQS_WINDOW = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"


def over(member: str, value: int, high: int) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {high}"


def under(member: str, value: int, low: int) -> str:
    return (
        f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater "
        f"than or equal to {low}"
    )


def build(stack: Stack) -> None:
    function = python_function(stack, "Consumer", "echo")
    stream = kinesis.Stream(stack, "Stream", shard_count=1)
    queue = sqs.Queue(stack, "Queue")
    stream.grant_read(function)
    queue.grant_consume_messages(function)
    mapping = lambda_.CfnEventSourceMapping(
        stack,
        "Widest",
        function_name=function.function_name,
        event_source_arn=stream.stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=10_000,
        maximum_batching_window_in_seconds=300,
        parallelization_factor=10,
        maximum_record_age_in_seconds=604_800,
        maximum_retry_attempts=10_000,
        tumbling_window_in_seconds=900,
    )
    narrowest = lambda_.CfnEventSourceMapping(
        stack,
        "Narrowest",
        function_name=function.function_name,
        event_source_arn=stream.stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=1,
        maximum_batching_window_in_seconds=0,
        parallelization_factor=1,
        maximum_record_age_in_seconds=-1,
        maximum_retry_attempts=-1,
        tumbling_window_in_seconds=0,
    )
    youngest = lambda_.CfnEventSourceMapping(
        stack,
        "YoungestRecords",
        function_name=function.function_name,
        event_source_arn=stream.stream_arn,
        starting_position="TRIM_HORIZON",
        maximum_record_age_in_seconds=60,
        maximum_retry_attempts=0,
    )
    windowed = lambda_.CfnEventSourceMapping(
        stack,
        "WindowedQueue",
        function_name=function.function_name,
        event_source_arn=queue.queue_arn,
        batch_size=11,
        maximum_batching_window_in_seconds=1,
    )
    for name, resource in [
        ("Widest", mapping),
        ("Narrowest", narrowest),
        ("YoungestRecords", youngest),
        ("WindowedQueue", windowed),
    ]:
        CfnOutput(stack, f"{name}Id", value=resource.ref)
    CfnOutput(stack, "FunctionName", value=function.function_name)
    CfnOutput(stack, "StreamArn", value=stream.stream_arn)
    CfnOutput(stack, "QueueArn", value=queue.queue_arn)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("MappingSettings", build), start=FIXED_START) as started:
        yield started


def refusal(call) -> dict:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MaximumRetryAttempts": 10_001}, over("maximumRetryAttempts", 10_001, 10_000)),
        ({"MaximumRecordAgeInSeconds": 604_801}, over("maximumRecordAgeInSeconds", 604_801, 604_800)),
        ({"BatchSize": 10_001}, over("batchSize", 10_001, 10_000)),
        ({"ParallelizationFactor": 11}, over("parallelizationFactor", 11, 10)),
        ({"TumblingWindowInSeconds": 901}, over("tumblingWindowInSeconds", 901, 900)),
        ({"MaximumBatchingWindowInSeconds": 301}, over("maximumBatchingWindowInSeconds", 301, 300)),
    ],
)
def test_a_stream_mapping_over_a_models_maximum_is_a_validation_exception(cloud, settings, message):
    error = refusal(
        lambda: cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"],
            EventSourceArn=cloud.outputs["StreamArn"],
            StartingPosition="LATEST",
            **settings,
        )
    )
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == f"1 validation error detected: {message}"


def test_every_problem_of_a_request_is_listed(cloud):
    error = refusal(
        lambda: cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"],
            EventSourceArn=cloud.outputs["StreamArn"],
            StartingPosition="LATEST",
            BatchSize=20_000,
            MaximumRetryAttempts=20_000,
        )
    )
    message = error["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")  # their order is not documented
    problems = message.removeprefix("2 validation errors detected: ").split("; ")
    assert sorted(problems) == sorted(
        [over("batchSize", 20_000, 10_000), over("maximumRetryAttempts", 20_000, 10_000)]
    )


@pytest.mark.parametrize("age", [0, 30, 59])
def test_a_record_age_from_0_to_59_is_refused_in_lambdas_words(cloud, age):
    error = refusal(
        lambda: cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"],
            EventSourceArn=cloud.outputs["StreamArn"],
            StartingPosition="LATEST",
            MaximumRecordAgeInSeconds=age,
        )
    )
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == RECORD_AGE


@pytest.mark.parametrize(
    "settings",
    [
        {"MaximumRetryAttempts": 2},
        {"MaximumRecordAgeInSeconds": 60},
        {"ParallelizationFactor": 2},
        {"TumblingWindowInSeconds": 60},
    ],
)
def test_an_sqs_mapping_takes_none_of_a_streams_settings(cloud, settings):
    (name,) = settings
    error = refusal(
        lambda: cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"], EventSourceArn=cloud.outputs["QueueArn"], **settings
        )
    )
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == f"Unsupported {name} parameter for given event source mapping type."


def test_an_sqs_batch_over_10_needs_a_batching_window(cloud):
    error = refusal(
        lambda: cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"], EventSourceArn=cloud.outputs["QueueArn"], BatchSize=11
        )
    )
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == SQS_WINDOW


def test_the_edges_of_every_range_deploy(cloud):
    """The template's mappings at each end of every range, and an SQS batch over 10 with a window."""
    lambda_client = cloud.client("lambda")
    described = {
        name: lambda_client.get_event_source_mapping(UUID=cloud.outputs[f"{name}Id"])
        for name in ("Widest", "Narrowest", "YoungestRecords", "WindowedQueue")
    }
    assert described["Widest"]["MaximumRetryAttempts"] == 10_000
    assert described["Narrowest"]["MaximumRecordAgeInSeconds"] == -1
    assert described["YoungestRecords"]["MaximumRecordAgeInSeconds"] == 60
    assert described["WindowedQueue"]["BatchSize"] == 11


def test_a_value_under_a_models_minimum_never_leaves_the_client(cloud):
    with pytest.raises(ParamValidationError, match="valid min value: -1"):
        cloud.client("lambda").create_event_source_mapping(
            FunctionName=cloud.outputs["FunctionName"],
            EventSourceArn=cloud.outputs["StreamArn"],
            StartingPosition="LATEST",
            MaximumRetryAttempts=-2,
        )


def test_an_update_out_of_range_is_refused_for_the_mappings_source(cloud):
    update = cloud.client("lambda").update_event_source_mapping
    uuid = cloud.outputs["WidestId"]
    error = refusal(lambda: update(UUID=uuid, MaximumRetryAttempts=10_001))
    assert (
        error["Error"]["Message"]
        == f"1 validation error detected: {over('maximumRetryAttempts', 10_001, 10_000)}"
    )
    error = refusal(lambda: update(UUID=uuid, MaximumRecordAgeInSeconds=1))
    assert error["Error"]["Message"] == RECORD_AGE
