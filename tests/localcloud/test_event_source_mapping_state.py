"""An event source mapping disabled and enabled at runtime (UpdateEventSourceMapping), as Lambda
does it: while disabled its poller receives nothing, so the queue keeps every message with no
receive counted; enabled again, it delivers them all. The call is authorized on the mapping's ARN
(``event-source-mapping:<UUID>``), and an unknown mapping is ``ResourceNotFoundException``."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

from localcloud.errors import Unsupported
from tests.localcloud.conftest import python_function
from tests.localcloud.messaging import forwarded, forwarder

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    work = sqs.Queue(
        stack,
        "Work",
        visibility_timeout=Duration.seconds(30),
        dead_letter_queue=sqs.DeadLetterQueue(queue=sqs.Queue(stack, "Dlq"), max_receive_count=1),
    )
    consumer = forwarder(stack, "Consumer", sqs.Queue(stack, "Seen"))
    work.grant_consume_messages(consumer)
    mapping = consumer.add_event_source_mapping("Mapping", event_source_arn=work.queue_arn, batch_size=10)
    idle = sqs.Queue(stack, "Idle")
    idle.grant_consume_messages(consumer)
    consumer.add_event_source_mapping("IdleMapping", event_source_arn=idle.queue_arn, enabled=False)
    for name in ("Switch", "Stranger"):
        fn = python_function(
            stack, name, "mapping_switch", environment={"MAPPING_UUID": mapping.event_source_mapping_id}
        )
        if name == "Switch":
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
                    resources=[mapping.event_source_mapping_arn],
                )
            )


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    with LocalCloud(synth("MappingState", build), start=FIXED_START) as started:
        yield started


def switch(cloud, function: str = "Switch", **event) -> dict:
    uuid = cloud.function(function).environment["MAPPING_UUID"]
    return cloud.invoke(function, {"uuid": uuid, **event})["Payload"]


def send(cloud, *bodies: str) -> None:
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Work"), MessageBody=body)


def test_a_disabled_mapping_receives_nothing_until_enabled_and_no_receive_is_counted(cloud):
    uuid = cloud.function("Switch").environment["MAPPING_UUID"]
    arn = f"arn:aws:lambda:{cloud.region}:{cloud.account}:event-source-mapping:{uuid}"
    assert switch(cloud) == {"state": "Enabled", "arn": arn}
    assert switch(cloud, enabled=False) == {"state": "Disabling", "arn": arn}
    assert switch(cloud)["state"] == "Disabled"

    send(cloud, "one", "two", "three")
    cloud.advance(600)
    cloud.drain()
    assert forwarded(cloud) == {}
    queue = cloud.service("sqs").moto_queue(cloud.physical_id("Work").rsplit("/", 1)[1])
    assert sorted(m.approximate_receive_count for m in queue._messages) == [0, 0, 0]
    assert (
        cloud.client("sqs").get_queue_attributes(
            QueueUrl=cloud.physical_id("Dlq"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    ), "maxReceiveCount 1 and nothing dead-lettered"

    assert switch(cloud, enabled=True)["state"] == "Enabling"
    cloud.drain()
    records = [r for event in forwarded(cloud)["Consumer"] for r in event["Records"]]
    assert sorted(r["body"] for r in records) == ["one", "three", "two"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in records} == {"1"}
    assert switch(cloud)["state"] == "Enabled"
    assert [s.detail for s in cloud.trace.find("mapping")] == [
        f"event source mapping {uuid} disabled",
        f"event source mapping {uuid} enabled",
    ]


def test_the_call_is_authorized_on_the_mapping_arn(cloud):
    for event in ({}, {"enabled": False}):
        refused = switch(cloud, "Stranger", **event)
        assert refused["error"] == "AccessDeniedException"
        assert (
            "event-source-mapping:" + cloud.function("Switch").environment["MAPPING_UUID"]
            in refused["message"]
        )
    assert switch(cloud)["state"] == "Enabled", "the refused call changed nothing"


def test_an_unknown_mapping_is_not_found_and_an_unmodelled_field_is_refused_by_name(cloud):
    answer = cloud.invoke("Switch", {"uuid": "00000000-0000-0000-0000-000000000000", "enabled": False})[
        "Payload"
    ]
    assert answer["error"] == "AccessDeniedException", "IAM decides first: the grant names one mapping"
    lambda_ = cloud.client("lambda")
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    uuid = cloud.function("Switch").environment["MAPPING_UUID"]
    with pytest.raises(Unsupported, match="BatchSize"):
        lambda_.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert lambda_.get_event_source_mapping(UUID=uuid)["BatchSize"] == 10


def test_a_mapping_is_described_with_lambdas_defaults_for_what_its_template_left_out(cloud):
    """AWS answers every setting of a mapping, the defaults too: a caller may read any of them."""
    [idle] = [m for m in cloud.service("lambda").mappings.values() if "IdleMapping" in m.logical_id]
    described = cloud.client("lambda").get_event_source_mapping(UUID=idle.uuid)
    assert described["State"] == "Disabled"
    assert (described["BatchSize"], described["MaximumBatchingWindowInSeconds"]) == (10, 0)
    assert described["FunctionResponseTypes"] == []
