"""Whether a service may use the KMS key of the queue or topic it delivers to, decided as AWS does:
an AWS managed key never admits another service, a missing or disabled key refuses, and a customer
managed key's policy must let the service principal both generate a data key and decrypt, with the
request's ``kms:ViaService`` set to the service that encrypts. No cloud is started: the rules need
only moto's KMS and the policy engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from localcloud.core import delivery
from localcloud.core.iam import PolicyEngine

ACCOUNT, REGION = "123456789012", "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:orders"
VIA_SQS = f"sqs.{REGION}.amazonaws.com"


@pytest.fixture
def kernel() -> Iterator[SimpleNamespace]:
    with mock_aws():
        engine = PolicyEngine()
        # The kernel's reader of a key's policy, standing in: the policies the tests give the keys.
        engine.resource_policy_of = lambda arn: engine.resource.get(arn, [])
        yield SimpleNamespace(account=ACCOUNT, region=REGION, iam=engine, kms=boto3.client("kms", REGION))


def key_letting_sns(kernel: SimpleNamespace, actions: list[str], condition: dict | None = None) -> str:
    arn = kernel.kms.create_key()["KeyMetadata"]["Arn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": actions,
        "Resource": "*",
    }
    kernel.iam.add_resource_policy(
        arn, {"Statement": [{**statement, **({"Condition": condition} if condition else {})}]}, "key"
    )
    return arn


def sns() -> delivery.targets.Sender:
    """SNS acting for the topic; made in each test, so a changed ``service_sender`` is seen."""
    return delivery.service_sender(None, "sns", TOPIC)  # type: ignore[arg-type]


def test_the_sender_is_named_after_its_resource() -> None:
    sender = sns()
    assert sender.principal == "sns.amazonaws.com"
    assert sender.source_arn == TOPIC
    assert sender.label == "sns:orders"


def test_an_unencrypted_target_needs_no_key(kernel: SimpleNamespace) -> None:
    assert delivery.key_refusal(kernel, sns(), None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["alias/aws/sqs", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/sqs"])
def test_an_aws_managed_key_never_admits_another_service(kernel: SimpleNamespace, key: str) -> None:
    assert (
        delivery.key_refusal(kernel, sns(), key)
        == f"{key} is an AWS managed key, which sns.amazonaws.com cannot use"
    )  # type: ignore[arg-type]


def test_a_key_that_does_not_exist_refuses(kernel: SimpleNamespace) -> None:
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert delivery.key_refusal(kernel, sns(), missing) == f"KMS key {missing} does not exist"  # type: ignore[arg-type]
    assert (
        delivery.key_refusal(kernel, sns(), "alias/nothing-here")
        == "KMS key alias/nothing-here does not exist"
    )  # type: ignore[arg-type]


def test_a_disabled_key_refuses_until_enabled(kernel: SimpleNamespace) -> None:
    key = key_letting_sns(kernel, ["kms:GenerateDataKey", "kms:Decrypt"])
    key_id = key.rsplit("/", 1)[1]  # moto's DisableKey and EnableKey take the id only, not the ARN
    kernel.kms.disable_key(KeyId=key_id)
    assert delivery.key_refusal(kernel, sns(), key) == f"KMS key {key} is Disabled"  # type: ignore[arg-type]
    kernel.kms.enable_key(KeyId=key_id)
    assert delivery.key_refusal(kernel, sns(), key) is None  # type: ignore[arg-type]


def test_the_key_policy_must_allow_both_actions(kernel: SimpleNamespace) -> None:
    key = key_letting_sns(kernel, ["kms:GenerateDataKey"])
    assert delivery.key_refusal(kernel, sns(), key) == (  # type: ignore[arg-type]
        f"the policy of KMS key {key} does not let sns.amazonaws.com kms:Decrypt"
    )


def test_a_via_service_condition_is_met_only_through_that_service(kernel: SimpleNamespace) -> None:
    key = key_letting_sns(
        kernel, ["kms:GenerateDataKey", "kms:Decrypt"], {"StringEquals": {"kms:ViaService": VIA_SQS}}
    )
    assert delivery.key_refusal(kernel, sns(), key, via=VIA_SQS) is None  # type: ignore[arg-type]
    assert delivery.key_refusal(kernel, sns(), key, via=f"sns.{REGION}.amazonaws.com") is not None  # type: ignore[arg-type]
    assert delivery.key_refusal(kernel, sns(), key) is not None, (
        "a delivery through no service meets no ViaService"
    )  # type: ignore[arg-type]


def test_event_times_are_written_to_the_millisecond() -> None:
    clock = SimpleNamespace(now=lambda: datetime(2026, 3, 4, 5, 6, 7, 999_000, tzinfo=UTC))
    assert delivery.timestamp(SimpleNamespace(clock=clock)) == "2026-03-04T05:06:07.999Z"  # type: ignore[arg-type]
    clock.now = lambda: datetime(2026, 3, 4, 5, 6, 7, 89_999, tzinfo=UTC)
    assert delivery.timestamp(SimpleNamespace(clock=clock)) == "2026-03-04T05:06:07.089Z"  # type: ignore[arg-type]
