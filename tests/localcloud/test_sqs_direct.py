"""SNS's deliveries to a standard queue go straight to moto's SQS backend: the same message, the same
limits and the same observers as through the SDK, without the request's CPU."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.services.sqs import direct

pytestmark = pytest.mark.localcloud

SMALL = 1024


def _queue_policy(*queues: str) -> dict:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": q} for q in queues],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in queues],
                        "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}},
                    }
                ],
            },
        },
    }


def _subscription(queue: str, **extra) -> dict:
    return {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "Protocol": "sqs",
            "TopicArn": {"Ref": "Topic"},
            "Endpoint": {"Fn::GetAtt": [queue, "Arn"]},
            "RawMessageDelivery": True,
            **extra,
        },
    }


TEMPLATE = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Inbox": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Small": {"Type": "AWS::SQS::Queue", "Properties": {"MaximumMessageSize": SMALL}},
        "SmallDlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Fifo": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
        "Policy": _queue_policy("Inbox", "Small", "SmallDlq"),
        "ToInbox": _subscription("Inbox"),
        "ToSmall": _subscription(
            "Small", RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": ["SmallDlq", "Arn"]}}
        ),
    }
}


@pytest.fixture(scope="module")
def cloud():
    with LocalCloud(StackArtifact("SqsDirect", TEMPLATE, Path("."))) as cloud:
        yield cloud


@pytest.fixture(autouse=True)
def _emptied(cloud):
    """Every subscription gets every message: each test starts from empty queues."""
    for queue in ("Inbox", "Small", "SmallDlq"):
        cloud.client("sqs").purge_queue(QueueUrl=cloud.physical_id(queue))
    cloud.advance(60)  # SQS takes one purge a minute per queue


def _take(cloud: LocalCloud, queue: str) -> list[dict]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=cloud.physical_id(queue), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return answer.get("Messages", [])


def _arn(cloud: LocalCloud, queue: str) -> str:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical_id(queue), AttributeNames=["QueueArn"]
    )
    return attributes["Attributes"]["QueueArn"]


def test_a_raw_delivery_arrives_as_sent_without_an_sdk_call(cloud, monkeypatch):
    def no_sdk_send(**_):
        raise AssertionError("SNS's delivery went through the SDK")

    monkeypatch.setattr(cloud.kernel.admin_client("sqs"), "send_message", no_sdk_send)
    attributes = {"color": {"DataType": "String", "StringValue": "red"}}
    published = cloud.client("sns").publish(
        TopicArn=cloud.physical_id("Topic"), Message='{"n": 1}', MessageAttributes=attributes
    )
    [message] = _take(cloud, "Inbox")
    assert message["Body"] == '{"n": 1}'
    assert message["MD5OfBody"] == hashlib.md5(b'{"n": 1}', usedforsecurity=False).hexdigest()
    assert message["MessageAttributes"] == {"color": {"DataType": "String", "StringValue": "red"}}
    sent = cloud.trace.find("send", target=f"sqs:{cloud.physical_id('Inbox').rsplit('/', 1)[-1]}")
    assert sent and sent[-1].parent is not None, "the queue's observer traced the send under SNS's delivery"
    assert published["MessageId"]


def test_the_queue_limits_still_refuse_and_the_subscription_dlq_gets_the_message(cloud):
    big = json.dumps({"text": "x" * SMALL})
    cloud.client("sns").publish(TopicArn=cloud.physical_id("Topic"), Message=big)
    assert _take(cloud, "Small") == []
    assert [m["Body"] for m in _take(cloud, "SmallDlq")] == [big]
    refused = [s for s in cloud.trace.find("deliver") if s.outcome == "refused"]
    assert refused and "InvalidParameterValue" in refused[-1].data["reason"]
    assert "Message must be shorter than 1024 bytes" in refused[-1].data["reason"]


def test_what_the_direct_path_does_not_model_goes_through_the_sdk(cloud):
    inbox, binary = _arn(cloud, "Inbox"), {"DataType": "Binary", "BinaryValue": b"\x00"}
    assert direct.send(cloud.kernel, _arn(cloud, "Fifo"), "x", {}) is None, "FIFO: deduplication first"
    assert direct.send(cloud.kernel, inbox, "x", {"MessageAttributes": {"b": binary}}) is None
    assert direct.send(cloud.kernel, inbox, "x", {"DelaySeconds": 5}) is None
    assert (
        direct.send(cloud.kernel, inbox.replace(":Small", ":None").rsplit(":", 1)[0] + ":gone", "x", {})
        is None
    )
    answer = direct.send(cloud.kernel, inbox, "x", {})
    assert (
        answer is not None
        and answer["MD5OfMessageBody"] == hashlib.md5(b"x", usedforsecurity=False).hexdigest()
    )
    assert [m["Body"] for m in _take(cloud, "Inbox")] == ["x"]
