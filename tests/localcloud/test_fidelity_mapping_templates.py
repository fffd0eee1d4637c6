"""A template whose event source mapping Lambda would refuse fails the deployment, naming the mapping
and saying what Lambda answers (the rules and their sources: ``test_fidelity_mapping_settings.py``).
No function or source is needed: the settings are checked before the mapping looks for either."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.errors import LocalCloudError
from tests.localcloud.test_fidelity_mapping_settings import RECORD_AGE, SQS_WINDOW, under

pytestmark = pytest.mark.localcloud

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"


def deploy(props: dict) -> str:
    """Start a cloud on a template with one mapping of ``props``; the deployment's error."""
    template = {"Resources": {"Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": props}}}
    cloud = LocalCloud(StackArtifact("Mappings", template, Path(".")))
    try:
        with pytest.raises(LocalCloudError) as refused:
            cloud.start()
    finally:
        cloud.stop()
    return str(refused.value)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"EventSourceArn": STREAM, "MaximumRecordAgeInSeconds": 30},
            f"Mapping: InvalidParameterValueException: {RECORD_AGE}",
        ),
        (
            {"EventSourceArn": STREAM, "ParallelizationFactor": 0},
            f"Mapping: ValidationException: 1 validation error detected: {under('parallelizationFactor', 0, 1)}",
        ),
        (
            {"EventSourceArn": QUEUE, "MaximumRetryAttempts": 2},
            "Mapping: InvalidParameterValueException: Unsupported MaximumRetryAttempts parameter for "
            "given event source mapping type.",
        ),
        (
            {"EventSourceArn": QUEUE, "BatchSize": 100},
            f"Mapping: InvalidParameterValueException: {SQS_WINDOW}",
        ),
    ],
    ids=["record-age", "under-a-minimum", "sqs-retries", "sqs-batch-without-window"],
)
def test_a_template_lambda_would_refuse_fails_the_deployment_naming_the_mapping(props, expected):
    assert deploy({"FunctionName": "consumer", "StartingPosition": "LATEST", **props}) == expected
