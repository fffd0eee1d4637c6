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
from tests.localcloud.pollers import Consumer, Script, error, ok, pollers, template

pytestmark = pytest.mark.localcloud

QUEUES = (
    "Capped",
    "Bulk",
    "Defaults",
    "RedrivenDlq",
    "PlainText",
    "Unreported",
    "Malformed",
    "Windowed",
    "Brief",
    "Full",
    "Counted",
    "Busy",
    "Traced",
    "Disabled",
    "Refusing",
    "Whole",
    "Partial",
    "Denied",
    "Undeleted",
    "Slow",
    "Outlasting",
    "Large",
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloud]:
    queues = {name: {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}} for name in QUEUES}
    queues["Ordered"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"VisibilityTimeout": 30, "FifoQueue": True, "ContentBasedDeduplication": True},
    }
    queues["OrderedTen"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"VisibilityTimeout": 30, "FifoQueue": True, "ContentBasedDeduplication": True},
    }
    queues["Redriven"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "VisibilityTimeout": 30,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["RedrivenDlq", "Arn"]},
                "maxReceiveCount": 2,
            },
        },
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


def deliveries(cloud: LocalCloud, poller: Any) -> list[tuple[float, str]]:
    return [(d.at, d.outcome) for d in cloud.trace.find("deliver", target=poller.function.name)]


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
    poller = poll(SqsEventSource, "MalformedArn", script, FunctionResponseTypes=["ReportBatchItemFailures"])
    start = cloud.clock.elapsed()
    send(cloud, "Malformed", "first")
    cloud.drain()
    send(cloud, "Malformed", "second")
    cloud.drain()
    assert bodies(script) == [["first"], ["second"], ["second"]]
    assert script.times(start) == [0, 0, 30.001]
    assert left(cloud, "Malformed") == 0
    assert [outcome for _, outcome in deliveries(cloud, poller)] == [
        "deleted",
        "invalid batchItemFailures: the whole batch returns",
        "deleted",
    ]


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
    """Lambda invokes as soon as BatchSize messages are there: more than a batch, or exactly one."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "FullArn", script, BatchSize=3, MaximumBatchingWindowInSeconds=20)
    start = cloud.clock.elapsed()
    send(cloud, "Full", "a", "b", "c", "d")
    cloud.drain()
    send(cloud, "Full", "e", "f", "g")
    cloud.drain()
    send(cloud, "Full", "h", "i")
    cloud.drain()
    assert bodies(script) == [["a", "b", "c"], ["d"], ["e", "f", "g"], ["h", "i"]]
    assert script.times(start) == [0, 20, 20, 40]


def test_a_delayed_message_does_not_fill_a_batch_before_its_delay_ends(cloud, poll):
    """Only messages a receive would return count towards a full batch: with BatchSize 2, a message
    and a delayed one wait the whole 20 s window, and the delayed one its own window after its 60 s."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "CountedArn", script, BatchSize=2, MaximumBatchingWindowInSeconds=20)
    start = cloud.clock.elapsed()
    send(cloud, "Counted", "late", DelaySeconds=60)
    send(cloud, "Counted", "now")
    cloud.drain()
    assert bodies(script) == [["now"], ["late"]]
    assert script.times(start) == [20, 80.001]


def test_a_message_visible_again_while_every_slot_is_busy_waits_for_a_slot(cloud, poll):
    """MaximumConcurrency 2, a function that runs 40 s: a failed message turns visible at 30 s, while
    both batches still hold their slots, and is delivered again when they end, at 40 s. That run,
    too, outlasts the 30 s visibility timeout: the message is visible again at 70 s, while the
    function still runs, and is delivered a third time (Lambda deletes it only when a run ends)."""
    script = Script(cloud, [lambda _: error(), lambda _: ok()])
    poller = poll(SqsEventSource, "BusyArn", script, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    poller.function.duration = 40.0
    start = cloud.clock.elapsed()
    send(cloud, "Busy", "a", "b")
    cloud.drain()
    assert bodies(script) == [["a"], ["b"], ["a"], ["a"]]
    assert script.times(start) == [0, 0, 40, 70.001]


def test_a_batch_stays_in_flight_until_the_invocation_ends(cloud, poll):
    """Lambda deletes a batch once the function has returned: a 20 s run (under the 30 s visibility
    timeout) keeps its message invisible, not deleted, until 20 s, and it is delivered once."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "SlowArn", script)
    poller.function.duration = 20.0
    send(cloud, "Slow", "m")
    cloud.advance(10)
    assert bodies(script) == [["m"]] and left(cloud, "Slow") == 1
    cloud.advance(11)
    assert left(cloud, "Slow") == 0
    cloud.drain()
    assert bodies(script) == [["m"]]


def test_a_run_longer_than_the_visibility_timeout_gets_its_message_again_while_it_runs(cloud, poll):
    """A 45 s run on a queue whose visibility timeout is 30 s: the message is visible again at 30 s,
    while the first run goes on, and Lambda delivers it a second time, as on AWS (the reason AWS
    advises a visibility timeout of six times the function's timeout). The trace says so."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "OutlastingArn", script)
    poller.function.duration = 45.0
    start = cloud.clock.elapsed()
    send(cloud, "Outlasting", "twice")
    cloud.drain()
    assert bodies(script) == [["twice"], ["twice"]]
    assert script.times(start) == [0, 30.001]
    assert left(cloud, "Outlasting") == 0
    first, _ = deliveries(cloud, poller)
    assert first[1] == (
        "ran 45 s, past the visibility timeout of 30 s: the batch was visible again while the function "
        "ran, and may have been delivered twice"
    )


def test_a_batch_over_lambdas_6_mb_is_cut_to_fit(cloud, poll):
    """Lambda sends a batch "up to the payload limit for synchronous invocation (6 MB)": ten messages
    of 1 MiB (SQS's largest) go as a batch of five and one of the other five."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "LargeArn", script, BatchSize=10, MaximumBatchingWindowInSeconds=5)
    one_mib = 1024 * 1024
    send(cloud, "Large", *[str(n) * one_mib for n in range(10)])
    cloud.drain()
    assert [len(batch) for batch in bodies(script)] == [5, 5]
    for _, event in script.calls:
        assert len(json.dumps(event, separators=(",", ":")).encode()) <= 6 * one_mib
    assert left(cloud, "Large") == 0


def test_a_one_second_batching_window_still_waits_its_second(cloud, poll):
    """MaximumBatchingWindowInSeconds 1, the shortest window: a lone message waits 1 s for company."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "BriefArn", script, BatchSize=5, MaximumBatchingWindowInSeconds=1)
    start = cloud.clock.elapsed()
    send(cloud, "Brief", "alone")
    cloud.drain()
    assert bodies(script) == [["alone"]] and script.times(start) == [1]


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


def test_a_message_sqs_did_not_delete_after_a_success_is_received_again(cloud, poll, monkeypatch):
    """A ``Failed`` entry of DeleteMessageBatch (here SQS's own fault, ``SenderFault: false``) leaves
    its message in the queue: it returns after its 30 s visibility timeout and is delivered again,
    and the delivery says so instead of "deleted"."""
    answered: list[list[str]] = []

    def fail_first_entry(kernel, call):
        if answered:
            return None  # from the second delete on, SQS (moto) deletes
        entries = call.params["Entries"]
        answered.append([entry["Id"] for entry in entries])
        return 200, {
            "Successful": [],
            "Failed": [
                {"Id": entries[0]["Id"], "SenderFault": False, "Code": "InternalError", "Message": "x"}
            ],
        }

    monkeypatch.setitem(cloud.kernel.registry.answers, "sqs.DeleteMessageBatch", fail_first_entry)
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "UndeletedArn", script)
    start = cloud.clock.elapsed()
    send(cloud, "Undeleted", "kept")
    cloud.drain()
    assert bodies(script) == [["kept"], ["kept"]] and script.times(start) == [0, 30.001]
    assert [outcome for _, outcome in deliveries(cloud, poller)] == [
        "1 not deleted (InternalError): they return after their visibility timeout",
        "deleted",
    ]
    assert left(cloud, "Undeleted") == 0


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


def test_a_fifo_batch_takes_up_to_10_messages_of_one_group_in_one_receive(cloud, poll):
    """Ten messages of one group fill one batch of 10, in order: once part of a group is in flight,
    SQS gives no more of it, so the batch must come from a single receive of 10."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "OrderedTenArn", script)
    sent = [f"m{n}" for n in range(10)]
    for body in sent:
        cloud.client("sqs").send_message(
            QueueUrl=cloud.physical_id("OrderedTen"), MessageBody=body, MessageGroupId="g"
        )
    cloud.drain()
    assert bodies(script) == [sent]


def test_a_delivery_hangs_in_the_trace_under_the_send_of_its_first_message(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "TracedArn", script)
    send(cloud, "Traced", "first", "second")
    queue = "sqs:" + cloud.physical_id("Traced").rsplit("/", 1)[1]
    first, second = cloud.trace.find("send", target=queue)
    cloud.drain()
    [delivery] = cloud.trace.find("deliver", target=poller.function.name)
    assert bodies(script) == [["first", "second"]]
    assert delivery.parent == first.id != second.id
    assert first.detail == f"message {delivery.data['message_ids'][0]}"


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


def test_maximum_concurrency_caps_the_batches_in_flight(cloud, poll):
    """ScalingConfig.MaximumConcurrency 2: two batches at once, each holding its slot for the
    function's 1 s, so the next two start a virtual second later."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(SqsEventSource, "CappedArn", script, BatchSize=2, ScalingConfig={"MaximumConcurrency": 2})
    poller.function.duration = 1.0
    start = cloud.clock.elapsed()
    send(cloud, "Capped", *[f"m{n}" for n in range(8)])
    cloud.drain()
    assert script.times(start) == [0, 0, 1, 1] and [len(b) for b in bodies(script)] == [2, 2, 2, 2]


def test_a_batch_size_above_10_is_filled_ten_messages_at_a_time_and_never_exceeded(cloud, poll):
    """BatchSize 15 reads 10 then the 5 left; 25 messages make a batch of 15 and one of 10, all deleted."""
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "BulkArn", script, BatchSize=15)
    for start in (0, 10, 20):
        entries = [{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(min(10, 25 - start))]
        cloud.client("sqs").send_message_batch(QueueUrl=cloud.physical_id("Bulk"), Entries=entries)
    cloud.drain()
    assert [len(b) for b in bodies(script)] == [15, 10]
    assert left(cloud, "Bulk") == 0, "every message of both batches deleted"


@pytest.mark.parametrize("operation", ["delete_message_batch", "change_message_visibility_batch"])
def test_sqs_refuses_more_than_10_entries_in_one_batch_call(cloud, operation):
    """Why the poller deletes a batch above 10 in calls of at most 10 entries: SQS refuses more."""
    entries = [{"Id": str(n), "ReceiptHandle": f"handle-{n}", "VisibilityTimeout": 0} for n in range(11)]
    if operation == "delete_message_batch":
        entries = [{"Id": e["Id"], "ReceiptHandle": e["ReceiptHandle"]} for e in entries]
    sqs = cloud.client("sqs")
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as refused:
        getattr(sqs, operation)(QueueUrl=cloud.physical_id("Bulk"), Entries=entries)
    assert refused.value.response["Error"]["Code"] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert refused.value.response["Error"]["Message"] == (
        "Maximum number of entries per request are 10. You have sent 11."
    )


def test_an_sqs_mapping_takes_batches_of_10_by_default(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    poll(SqsEventSource, "DefaultsArn", script)
    send(cloud, "Defaults", *[f"m{n}" for n in range(11)])
    cloud.drain()
    assert [len(b) for b in bodies(script)] == [10, 1]


def test_a_message_received_max_receive_count_times_is_traced_to_the_dead_letter_queue(cloud, poll):
    """The queue's redrive policy (maxReceiveCount 2) moves a message that keeps failing: two
    deliveries 30 s apart, then the dead-letter queue at the second visibility timeout."""
    script = Script(cloud, [lambda _: error()])
    poller = poll(SqsEventSource, "RedrivenArn", script)
    start = cloud.clock.elapsed()
    send(cloud, "Redriven", "poison")
    cloud.drain()
    assert bodies(script) == [["poison"], ["poison"]] and script.times(start) == [0, 30.001]
    [redrive] = [r for r in cloud.trace.find("redrive") if r.source == poller.label]
    assert round(redrive.at - start, 3) == 60.002 and redrive.outcome == "dead-lettered"
    assert redrive.target == "sqs:" + cloud.physical_id("RedrivenDlq").rsplit("/", 1)[1]
    assert redrive.detail.endswith("after 2 receives")
    dead = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("RedrivenDlq"))["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]


def _mapping(cloud: LocalCloud, source: str, timeout: int = 3, **props: Any) -> SqsEventSource:
    """A mapping made as Lambda makes it (no deliver given), for a function with ``timeout``, not started."""
    consumer = Consumer(
        "limits",
        "arn:aws:lambda:us-east-1:123456789012:function:limits",
        cloud.outputs["PollerArn"],
        timeout=timeout,
    )
    return SqsEventSource(
        cloud.kernel, "limits", consumer, {"EventSourceArn": cloud.outputs[source], **props}
    )


@pytest.mark.parametrize(
    ("props", "refusal"),
    [
        ({"BatchSize": 11}, "BatchSize 11 is over 10, the maximum for a FIFO queue"),
        ({"MaximumBatchingWindowInSeconds": 1}, "Batching window is not supported for FIFO queues"),
        (
            {"ScalingConfig": {"MaximumConcurrency": 1}},
            "ScalingConfig.MaximumConcurrency 1 is outside 2 to 1000",
        ),
        (
            {"ScalingConfig": {"MaximumConcurrency": 1001}},
            "ScalingConfig.MaximumConcurrency 1001 is outside 2 to 1000",
        ),
    ],
)
def test_settings_lambda_refuses_for_a_queue_are_refused(cloud, props, refusal):
    with pytest.raises(InvalidRequest, match=f"InvalidParameterValueException: {refusal}"):
        _mapping(cloud, "OrderedArn", **props)


def test_a_queue_whose_visibility_timeout_is_shorter_than_the_functions_timeout_is_refused(cloud):
    """Lambda refuses the mapping, so a message cannot turn visible while its function may still run
    (the queues here time out after 30 s); a timeout equal to it is accepted."""
    with pytest.raises(
        InvalidRequest,
        match="InvalidParameterValueException: Queue visibility timeout: 30 seconds is less than "
        "Function timeout: 31 seconds",
    ):
        _mapping(cloud, "DefaultsArn", timeout=31)
    assert _mapping(cloud, "DefaultsArn", timeout=30).batch_size == 10


def test_the_edges_of_lambdas_ranges_are_accepted(cloud):
    """A FIFO queue takes a batch of 10; MaximumConcurrency runs from 2 to 1000 (1000 when unset)."""
    assert _mapping(cloud, "OrderedArn", BatchSize=10).batch_size == 10
    for concurrency in (2, 1000):
        mapping = _mapping(cloud, "DefaultsArn", ScalingConfig={"MaximumConcurrency": concurrency})
        assert mapping.max_concurrency == concurrency
    assert _mapping(cloud, "DefaultsArn").max_concurrency == 1000
