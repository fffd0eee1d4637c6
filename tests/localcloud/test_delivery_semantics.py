"""Whether S3 may notify a function, decided as when it validates a notification configuration: the
function must exist and its permissions (``AddPermission``) must let S3 in for that bucket. No cloud:
the lambda service's own target reads the permissions the policy engine keeps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from localcloud.core import delivery
from localcloud.core.iam import PolicyEngine
from localcloud.errors import FunctionNotFound
from localcloud.services.lambda_ import SERVICE as LAMBDA

pytestmark = pytest.mark.localcloud

ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:thumbnailer"
BUCKET = "arn:aws:s3:::uploads"


class Functions:
    """The lambda service's state, holding one function."""

    def function(self, arn: str) -> SimpleNamespace:
        if arn != FUNCTION:
            raise FunctionNotFound(arn)
        return SimpleNamespace(arn=arn)


def kernel() -> SimpleNamespace:
    return SimpleNamespace(
        account=ACCOUNT,
        iam=PolicyEngine(),
        target=lambda service: LAMBDA.target if service == "lambda" else None,
        service=lambda name: Functions(),
    )


def s3() -> delivery.targets.Sender:
    return delivery.service_sender(None, "s3", BUCKET)  # type: ignore[arg-type]


def test_s3_may_not_notify_a_function_that_does_not_exist() -> None:
    missing = FUNCTION.replace("thumbnailer", "gone")
    assert delivery.function_refusal(kernel(), s3(), missing) == "the function does not exist"  # type: ignore[arg-type]


def test_s3_may_notify_a_function_only_with_a_permission_for_its_bucket() -> None:
    cloud = kernel()
    assert delivery.function_refusal(cloud, s3(), FUNCTION) == (  # type: ignore[arg-type]
        f"AccessDeniedException: s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction "
        f"on resource: {FUNCTION} for {BUCKET}: no resource-based policy statement allows it"
    )
    permission = {"Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    cloud.iam.add_function_permission(FUNCTION, {**permission, "SourceArn": "arn:aws:s3:::other"}, "Other")
    assert delivery.function_refusal(cloud, s3(), FUNCTION) is not None  # type: ignore[arg-type]
    cloud.iam.add_function_permission(FUNCTION, {**permission, "SourceArn": BUCKET}, "Uploads")
    assert delivery.function_refusal(cloud, s3(), FUNCTION) is None  # type: ignore[arg-type]
