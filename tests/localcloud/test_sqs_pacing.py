"""An SQS event source's maximum concurrency in virtual time: a batch holds its slot for as long as
its invocation lasted, the calls it waited on included, and Lambda's range for it is enforced."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from localcloud.errors import InvalidRequest
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    queue = sqs.Queue(
        stack,
        "Work",
        visibility_timeout=Duration.seconds(30),
        dead_letter_queue=sqs.DeadLetterQueue(queue=sqs.Queue(stack, "Dlq"), max_receive_count=3),
    )
    slow = python_function(stack, "Slow", "echo")
    relay = python_function(stack, "Relay", "sqs_relay", environment={"DOWNSTREAM": slow.function_arn})
    slow.grant_invoke(relay)
    relay.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=10,
            max_batching_window=Duration.seconds(5),
            report_batch_item_failures=True,
            max_concurrency=2,
        )
    )


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    started = LocalCloud(synth("SqsPacing", build), start=FIXED_START)
    started.start()
    yield started
    started.stop()


def send(cloud, count: int, prefix: str) -> None:
    sqs_client, url = cloud.client("sqs"), cloud.physical_id("Work")
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": f"{prefix}-{start + n}"} for n in range(min(10, count - start))
        ]
        sqs_client.send_message_batch(QueueUrl=url, Entries=entries)


def test_a_batch_holds_its_slot_while_its_function_waits_on_a_slower_one(cloud):
    """Two slots, each batch waiting 1 s on the downstream: two batches per virtual second, as on AWS,
    not every batch at once because the consumer's own code took no time."""
    relay, slow = cloud.function("Relay"), cloud.function("Slow")
    slow.duration = 1.0
    start = cloud.clock.elapsed()
    send(cloud, 60, "paced")
    cloud.drain()
    invokes = [s for s in cloud.trace.find("invoke", target=relay.name) if s.at >= start]
    assert len(invokes) == 6
    assert sorted(round(s.at - start, 3) for s in invokes) == [0, 0, 1, 1, 2, 2]
    assert all(round(s.ended - s.at, 3) == 1 for s in invokes), "each lasts as long as its call"
    invoker = cloud.service("lambda").invoker
    assert max(invoker.concurrency_at(relay, s.at) for s in invokes) == 2


def test_the_batching_window_waits_on_the_virtual_clock_for_a_fuller_batch(cloud):
    relay = cloud.function("Relay")
    cloud.function("Slow").duration = 0.0
    start = cloud.clock.elapsed()
    send(cloud, 3, "trickle")
    cloud.advance(4.9)
    assert [s for s in cloud.trace.find("deliver") if s.at >= start] == []
    cloud.advance(0.1)
    [delivery] = [s for s in cloud.trace.find("deliver", target=relay.name) if s.at >= start]
    assert len(delivery.data["message_ids"]) == 3 and round(delivery.at - start, 3) == 5


@pytest.mark.parametrize("value", [1, 1001])
def test_a_maximum_concurrency_lambda_refuses_is_refused(cloud, value):
    relay = cloud.function("Relay")
    props = {
        "EventSourceArn": cloud.service("sqs").queue_arn(cloud.physical_id("Work")),
        "ScalingConfig": {"MaximumConcurrency": value},
    }
    with pytest.raises(
        InvalidRequest, match=f"ScalingConfig.MaximumConcurrency {value} is outside 2 to 1000"
    ):
        cloud.service("lambda").add_event_source("Again", f"again-{value}", relay, props)


def test_queue_counts_and_retention_are_unchanged_by_the_speedups(cloud):
    """moto's SQS speedups (localcloud/services/sqs/speed.py) answer as moto did: counts by
    visibility and delay, and a message past the queue's retention period is never received."""
    sqs_client, url = cloud.client("sqs"), cloud.physical_id("Dlq")
    for n in range(5):
        sqs_client.send_message(QueueUrl=url, MessageBody=f"count-{n}", DelaySeconds=60 if n < 2 else 0)
    assert len(sqs_client.receive_message(QueueUrl=url, VisibilityTimeout=300)["Messages"]) == 1
    counts = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("2", "1", "2")
    sqs_client.purge_queue(QueueUrl=url)
    sqs_client.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    sqs_client.send_message(QueueUrl=url, MessageBody="expires")
    cloud.advance(61)
    assert "Messages" not in sqs_client.receive_message(QueueUrl=url), "past the retention period"
    sqs_client.send_message(QueueUrl=url, MessageBody="fresh")
    assert [m["Body"] for m in sqs_client.receive_message(QueueUrl=url)["Messages"]] == ["fresh"]
