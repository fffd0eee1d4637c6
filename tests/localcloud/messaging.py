"""Helpers for tests that watch messages: what a queue holds, and functions that report what they got."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from localcloud import LocalCloud
from localcloud.core.trace import Span
from tests.localcloud.conftest import python_function


def forwarder(stack: Stack, construct_id: str, seen: sqs.Queue) -> lambda_.Function:
    """A function that sends each event it gets to ``seen``, tagged with its construct id."""
    fn = python_function(
        stack, construct_id, "forwarder", environment={"SEEN_QUEUE_URL": seen.queue_url, "WHO": construct_id}
    )
    seen.grant_send_messages(fn)
    return fn


def received(cloud: LocalCloud, queue: str) -> list[dict]:
    """Every message waiting in ``queue``, taken off it, with its attributes."""
    sqs_client, url = cloud.client("sqs"), cloud.physical_id(queue)
    messages: list[dict] = []
    while page := sqs_client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(page)
        sqs_client.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(page)],
        )
    return messages


def bodies(cloud: LocalCloud, queue: str) -> list[dict]:
    """The JSON bodies of the messages waiting in ``queue``, taken off it."""
    return [json.loads(m["Body"]) for m in received(cloud, queue)]


def forwarded(cloud: LocalCloud, queue: str = "Seen") -> dict[str, list[dict]]:
    """The events each :func:`forwarder` was invoked with, by construct id."""
    events: dict[str, list[dict]] = {}
    for seen in bodies(cloud, queue):
        events.setdefault(seen["who"], []).append(seen["event"])
    return events


def queue_label(cloud: LocalCloud, queue: str) -> str:
    """How the trace names a queue of the stack."""
    return f"sqs:{cloud.physical_id(queue).rsplit('/', 1)[1]}"


def caused_by(cloud: LocalCloud, span: Span) -> list[Span]:
    """The spans ``span`` caused directly."""
    return [s for s in cloud.trace.spans if s.parent == span.id]
