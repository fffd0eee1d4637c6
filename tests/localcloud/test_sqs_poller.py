"""The SQS poller driven directly, each batch answered by a script (see tests/localcloud/pollers.py):
filters, reported failures, batching windows and redeliveries at their exact virtual times, as AWS
documents them; and the role the mapping needs, refused only where IAM is enforced.

One cloud for the module, from a CloudFormation template; each test reads a queue of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.lambda_.event_sources.sqs import SqsEventSource
from tests.localcloud.pollers import Script, error, ok, pollers, template

pytestmark = pytest.mark.localcloud

QUEUES = (
    "PlainText",
    "Unreported",
    "Malformed",
    "Windowed",
    "Full",
    "Disabled",
    "Refusing",
    "Whole",
    "Partial",
    "Denied",
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloud]:
    queues = {name: {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}} for name in QUEUES}
    queues["Ordered"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"VisibilityTimeout": 30, "FifoQueue": True, "ContentBasedDeduplication": True},
    }
    artifact = StackArtifact("SqsPollers", template(queues), tmp_path_factory.mktemp("sqs-pollers"))
    with LocalCloud(artifact, start=FIXED_START) as started:
        yield started


@pytest.fixture
def poll(cloud: LocalCloud) -> Iterator[Callable[..., Any]]:
    yield from pollers(cloud)


def send(cloud: LocalCloud, queue: str, *bodies: str, **extra: Any) -> None:
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=cloud.physical_id(queue), MessageBody=body, **extra)


def bodies(script: Script) -> list[list[str]]:
    return [[r["body"] for r in event["Records"]] for _, event in script.calls]


def left(cloud: LocalCloud, queue: str) -> int:
    """Messages still in ``queue``, visible or not: deleted ones are gone."""
    return len(cloud.service("sqs").moto_queue(cloud.physical_id(queue).rsplit("/", 1)[1])._messages)


def test_a_filter_on_a_plain_text_body_matches_the_text_and_the_rest_is_deleted(cloud, poll):
    """Lambda filters a body that is not JSON as a plain string; what no filter matches is deleted
    without an invocation."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(
        SqsEventSource,
        "PlainTextArn",
        script,
        FilterCriteria={
            "Filters": [
                {"Pattern": json.dumps({"body": ["keep me"]})},
                {"Pattern": json.dumps({"body": {"n": [1]}})},
            ]
        },
    )
    send(cloud, "PlainText", "keep me", "drop me", json.dumps({"n": 1}), json.dumps({"n": 2}))
    cloud.drain()
    assert sorted(b for batch in bodies(script) for b in batch) == sorted(["keep me", json.dumps({"n": 1})])
    assert left(cloud, "PlainText") == 0
    [dropped] = cloud.trace.find("filter", target=poller.function.name)
    assert dropped.detail == "2 message(s) filtered out and deleted"


def test_without_report_batch_item_failures_a_reported_failure_is_ignored(cloud, poll):
    """Only a mapping with ReportBatchItemFailures reads batchItemFailures: without it a function that
    returns succeeded, and its whole batch is deleted."""
    script = Script(
        cloud, [lambda e: ok({"batchItemFailures": [{"itemIdentifier": e["Records"][0]["messageId"]}]})]
    )
    poll(SqsEventSource, "UnreportedArn", script)
    send(cloud, "Unreported", "a", "b")
    cloud.drain()
    assert bodies(script) == [["a", "b"]] and left(cloud, "Unreported") == 0


def test_a_report_that_is_not_a_list_of_objects_returns_the_whole_batch(cloud, poll):
    """With ReportBatchItemFailures, an answer that is not an object deletes the batch (no failure
    reported), while an entry that is not an object fails the whole batch, redelivered after the
    visibility timeout (30 s)."""
    answers = [
        lambda _: ok(["not", "an", "object"]),
        lambda _: ok({"batchItemFailures": ["a"]}),
        lambda _: ok(),
    ]
    script = Script(cloud, answers)
    poll(SqsEventSource, "MalformedArn", script, FunctionResponseTypes=["ReportBatchItemFailures"])
    start = cloud.clock.elapsed()
    send(cloud, "Malformed", "first")
    cloud.drain()
    send(cloud, "Malformed", "second")
    cloud.drain()
    assert bodies(script) == [["first"], ["second"], ["second"]]
    assert script.times(start) == [0, 0, 30.001]
    assert left(cloud, "Malformed") == 0


def test_each_part_batch_waits_a_batching_window_of_its_own(cloud, poll):
    """The window opens when a message is there to wait for: on an idle queue it does not run, and
    after a batch the next message waits a whole window again."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "WindowedArn", script, BatchSize=5, MaximumBatchingWindowInSeconds=20)
    cloud.advance(30)
    start = cloud.clock.elapsed()
    send(cloud, "Windowed", "one")
    cloud.drain()
    send(cloud, "Windowed", "two")
    cloud.drain()
    assert bodies(script) == [["one"], ["two"]]
    assert script.times(start) == [20, 40]


def test_a_full_batch_goes_at_once_without_waiting_the_window(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "FullArn", script, BatchSize=3, MaximumBatchingWindowInSeconds=20)
    start = cloud.clock.elapsed()
    send(cloud, "Full", "a", "b", "c", "d")
    cloud.drain()
    assert bodies(script) == [["a", "b", "c"], ["d"]]
    assert script.times(start) == [0, 20]


def test_a_disabled_mapping_does_not_stop_the_clock_for_its_queue(cloud, poll):
    """A disabled mapping receives nothing, so a delayed message of its queue is no moment to wake at:
    draining returns at once; enabled, the mapping gets the message when its delay ends."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "DisabledArn", script, Enabled=False)
    start = cloud.clock.elapsed()
    send(cloud, "Disabled", "later", DelaySeconds=60)
    cloud.drain()
    assert cloud.clock.elapsed() == start and script.calls == []
    poller.enabled = True
    cloud.drain()
    assert bodies(script) == [["later"]] and script.times(start) == [60.001]


def test_a_role_that_may_not_receive_is_refused_only_where_iam_is_enforced(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    refusal = "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    with pytest.raises(InvalidRequest, match=f"InvalidParameterValueException: {refusal}"):
        poll(SqsEventSource, "RefusingArn", script, role="BareArn")
    cloud.kernel.enforce_iam = False
    try:
        accepted = poll(SqsEventSource, "RefusingArn", script, role="BareArn")
    finally:
        cloud.kernel.enforce_iam = True
    accepted.enabled = False  # its role may not receive now that IAM applies again
    assert accepted.function.role_arn == cloud.outputs["BareArn"]


def deliveries(cloud: LocalCloud, poller: Any) -> list[tuple[float, str]]:
    return [(d.at, d.outcome) for d in cloud.trace.find("deliver", target=poller.function.name)]


def test_a_failed_batch_returns_whole_and_a_reported_item_alone_after_the_visibility_timeout(cloud, poll):
    """A function error deletes nothing: every message of the batch comes back when its 30 s
    visibility timeout ends. With ReportBatchItemFailures only the reported message comes back."""
    failing = Script(cloud, [lambda _: error(), lambda _: ok()])
    whole = poll(SqsEventSource, "WholeArn", failing)
    reporting = Script(
        cloud,
        [
            lambda e: ok({"batchItemFailures": [{"itemIdentifier": e["Records"][1]["messageId"]}]}),
            lambda _: ok(),
        ],
    )
    partial = poll(SqsEventSource, "PartialArn", reporting, FunctionResponseTypes=["ReportBatchItemFailures"])
    start = cloud.clock.elapsed()
    send(cloud, "Whole", "a", "b")
    send(cloud, "Partial", "c", "d")
    cloud.drain()
    assert bodies(failing) == [["a", "b"], ["a", "b"]] and failing.times(start) == [0, 30.001]
    assert bodies(reporting) == [["c", "d"], ["d"]] and reporting.times(start) == [0, 30.001]
    assert [outcome for _, outcome in deliveries(cloud, whole)] == [
        "batch failed: every message returns after its visibility timeout",
        "deleted",
    ]
    assert [outcome for _, outcome in deliveries(cloud, partial)] == ["1 failed item(s) return", "deleted"]
    assert left(cloud, "Whole") == left(cloud, "Partial") == 0


def test_a_fifo_batch_that_failed_comes_back_in_its_groups_order(cloud, poll):
    """Messages of one group that turn visible again at the same moment are received in the order
    they were sent, as SQS keeps a FIFO group's order."""
    script = Script(cloud, [lambda _: error(), lambda _: ok()])
    poll(SqsEventSource, "OrderedArn", script)
    start = cloud.clock.elapsed()
    for body in ("first", "second", "third"):
        cloud.client("sqs").send_message(
            QueueUrl=cloud.physical_id("Ordered"), MessageBody=body, MessageGroupId="g"
        )
    cloud.drain()
    assert bodies(script) == [["first", "second", "third"]] * 2
    assert script.times(start) == [0, 30.001]


def test_the_poller_receives_in_a_session_named_for_its_function(cloud, poll):
    """Lambda's calls for a mapping are the function role's, in a session of its own: a receive the
    role is denied after the mapping was made names it."""
    queue_arn = cloud.outputs["DeniedArn"]
    deny = {"Statement": [{"Effect": "Deny", "Action": "sqs:ReceiveMessage", "Resource": queue_arn}]}
    poller = poll(SqsEventSource, "DeniedArn", Script(cloud, [lambda _: ok()]), session=None)
    cloud.iam.add_identity_policy(cloud.outputs["PollerArn"], deny, "deny-the-denied-queue")
    send(cloud, "Denied", "never")
    try:
        with pytest.raises(
            ClientError, match=f"assumed-role/[^/]+/esm:{poller.function.name} is not authorized"
        ):
            cloud.drain()
    finally:
        poller.enabled = False
