"""What S3 and CloudFormation refuse of a bucket's notifications at deployment: configurations whose
filters overlap for an event type (S3's InvalidArgument), and a notifications handler whose role may
not put the configuration (AccessDenied)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as destinations
from aws_cdk import aws_sqs as sqs

from localcloud import TemplateError
from localcloud.services.s3.filters import AMBIGUOUS, overlapping

pytestmark = pytest.mark.localcloud

HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def rule(events, prefix="", suffix=""):
    return SimpleNamespace(events=events, prefix=prefix, suffix=suffix)


CREATED = ["s3:ObjectCreated:*"]


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        (rule(CREATED, "a/", ".csv"), rule(CREATED, "a/b/", ""), True),
        (rule(CREATED, "", ".csv"), rule(CREATED, "in/", "x.csv"), True),
        (rule(CREATED), rule(["s3:ObjectCreated:Put"], "in/"), True),
        (rule(CREATED, "a/", ".csv"), rule(CREATED, "a/", ".json"), False),
        (rule(CREATED, "a/"), rule(CREATED, "b/"), False),
        (rule(CREATED, "a/"), rule(["s3:ObjectRemoved:*"], "a/"), False),
        (rule(["s3:ObjectCreated:Put"]), rule(["s3:ObjectCreated:Copy"]), False),
    ],
)
def test_configurations_overlap_when_event_prefix_and_suffix_all_overlap(first, second, clash):
    assert (overlapping([first, second]) is not None) is clash
    assert (overlapping([second, first]) is not None) is clash


def build_overlapping(stack: Stack) -> None:
    bucket = s3.Bucket(stack, "Uploads")
    bucket.add_event_notification(
        s3.EventType.OBJECT_CREATED,
        destinations.SqsDestination(sqs.Queue(stack, "Csv")),
        s3.NotificationKeyFilter(prefix="incoming/", suffix=".csv"),
    )
    bucket.add_event_notification(
        s3.EventType.OBJECT_CREATED_PUT,
        destinations.SqsDestination(sqs.Queue(stack, "Everything")),
        s3.NotificationKeyFilter(prefix="incoming/2026/"),
    )


def build_disjoint(stack: Stack) -> None:
    bucket = s3.Bucket(stack, "Uploads")
    for name, suffix in (("Csv", ".csv"), ("Json", ".json")):
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            destinations.SqsDestination(sqs.Queue(stack, name)),
            s3.NotificationKeyFilter(prefix="incoming/", suffix=suffix),
        )
    bucket.add_event_notification(
        s3.EventType.OBJECT_REMOVED,
        destinations.SqsDestination(sqs.Queue(stack, "Removed")),
        s3.NotificationKeyFilter(prefix="incoming/", suffix=".csv"),
    )
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)


def build_handler_denied(stack: Stack) -> None:
    build_disjoint(stack)
    role = stack.node.find_child(HANDLER).node.find_child("Role")
    # In its default policy, which the notifications resource waits for.
    role.add_to_principal_policy(
        iam.PolicyStatement(effect=iam.Effect.DENY, actions=["s3:PutBucketNotification"], resources=["*"])
    )


def test_overlapping_configurations_fail_the_deployment(synth, run):
    with pytest.raises(TemplateError, match=AMBIGUOUS.replace(".", r"\.")):
        run(synth("S3OverlappingFilters", build_overlapping))


def test_configurations_that_cannot_both_match_deploy(synth, run):
    cloud = run(synth("S3DisjointFilters", build_disjoint))
    bucket = cloud.outputs["BucketName"]
    assert len(cloud.service("s3")[bucket].destinations) == 3


def test_a_notifications_handler_denied_the_put_fails_the_deployment(synth, run):
    with pytest.raises(TemplateError, match=r"AccessDenied: .* s3:PutBucketNotification .*explicit deny"):
        run(synth("S3NotificationsHandlerDenied", build_handler_denied))
