"""SQS FIFO deduplication: five minutes from the first send, even once that message is deleted.

Amazon SQS Developer Guide, "Using the message deduplication ID in Amazon SQS": messages sent with
a deduplication id already sent "are accepted successfully but aren't delivered during the
5-minute deduplication interval".
"""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs

from localcloud.errors import InvalidRequest
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build_fifo(stack: Stack) -> None:
    sqs.Queue(stack, "ByContent", fifo=True, content_based_deduplication=True)
    by_id = sqs.Queue(stack, "ById", fifo=True)
    by_id.grant_consume_messages(python_function(stack, "Consumer", "recorder"))


@pytest.fixture
def fifo_cloud(synth, run):
    return run(synth("SqsFifoSemantics", build_fifo))


def take(cloud, url: str) -> list[str]:
    """Receive and delete everything deliverable, as a consumer does; the bodies."""
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in messages]


def test_a_duplicate_of_a_deleted_message_is_accepted_but_not_delivered_for_five_minutes(fifo_cloud):
    sqs, url = fifo_cloud.client("sqs"), fifo_cloud.physical_id("ByContent")
    first = sqs.send_message(QueueUrl=url, MessageBody="order-1", MessageGroupId="g")
    assert take(fifo_cloud, url) == ["order-1"]
    fifo_cloud.advance(299)
    again = sqs.send_message(QueueUrl=url, MessageBody="order-1", MessageGroupId="other-group")
    assert again["MessageId"] == first["MessageId"], "the answer names the first message"
    assert take(fifo_cloud, url) == [], "accepted, not delivered: the first copy was already consumed"
    fifo_cloud.advance(1)
    later = sqs.send_message(QueueUrl=url, MessageBody="order-1", MessageGroupId="g")
    assert later["MessageId"] != first["MessageId"]
    assert take(fifo_cloud, url) == ["order-1"], "five minutes after the first send it is new again"


def test_the_interval_runs_from_the_first_send_not_the_last_duplicate(fifo_cloud):
    sqs, url = fifo_cloud.client("sqs"), fifo_cloud.physical_id("ById")
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d1")
    fifo_cloud.advance(200)
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g", MessageDeduplicationId="d1")
    fifo_cloud.advance(100)
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="d1")
    assert take(fifo_cloud, url) == ["a", "b"]


def test_a_batch_is_deduplicated_against_earlier_sends_and_within_itself(fifo_cloud):
    sqs, url = fifo_cloud.client("sqs"), fifo_cloud.physical_id("ById")
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="x")
    answer = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "again", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "x"},
            {"Id": "new", "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": "y"},
            {"Id": "twice", "MessageBody": "y2", "MessageGroupId": "g", "MessageDeduplicationId": "y"},
            {"Id": "no-id", "MessageBody": "z", "MessageGroupId": "g"},
        ],
    )
    ids = {entry["Id"]: entry["MessageId"] for entry in answer["Successful"]}
    assert ids["again"] == first["MessageId"]
    assert ids["twice"] == ids["new"]
    assert [f["Id"] for f in answer["Failed"]] == ["no-id"], "no deduplication id and none from content"
    assert take(fifo_cloud, url) == ["x", "y"]


def test_a_fifo_mapping_takes_a_batch_of_ten_and_no_batching_window(fifo_cloud):
    """Lambda developer guide, "Lambda parameters for Amazon SQS event source mappings": for FIFO
    queues the largest BatchSize is 10, and a batching window is not supported."""
    consumer = fifo_cloud.function("Consumer")
    ordered = fifo_cloud.service("sqs").queue_arn(fifo_cloud.physical_id("ById"))
    lambda_ = fifo_cloud.service("lambda")
    for extra, refusal in [
        ({"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1}, "BatchSize 11 is over 10"),
        ({"MaximumBatchingWindowInSeconds": 1}, "Batching window is not supported for FIFO queues"),
    ]:
        with pytest.raises(InvalidRequest, match=f"InvalidParameterValueException: {refusal}"):
            lambda_.add_event_source(
                "Again", "again", consumer, {"EventSourceArn": ordered, "BatchSize": 10, **extra}
            )
    lambda_.add_event_source("Again", "again", consumer, {"EventSourceArn": ordered, "BatchSize": 10})
