"""The local cloud's core semantics, one small purpose-built stack at a time.

SQS event sources, asynchronous invocation, throttling, module isolation, IAM and the clear errors
for what the local cloud does not know.
"""

from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk import App, CfnResource, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError

from localcloud import DrainLimitExceeded, LocalCloud, UnsupportedResourceType
from localcloud.errors import InvalidRequest
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud


def _consumer(stack: Stack, construct_id: str, table: dynamodb.Table, report: bool) -> lambda_.Function:
    fn = python_function(
        stack,
        construct_id,
        "recorder",
        environment={"TABLE_NAME": table.table_name, "REPORT_FAILURES": "true" if report else "false"},
    )
    table.grant_write_data(fn)
    return fn


def build_sqs(stack: Stack) -> None:
    table = pk_table(stack, "Seen")
    dlq = sqs.Queue(stack, "Dlq")
    queue = sqs.Queue(
        stack,
        "Work",
        visibility_timeout=Duration.seconds(30),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=2),
    )
    _consumer(stack, "Consumer", table, report=True).add_event_source(
        sources.SqsEventSource(queue, batch_size=5, report_batch_item_failures=True, max_concurrency=2)
    )
    whole = sqs.Queue(stack, "Whole", visibility_timeout=Duration.seconds(30))
    _consumer(stack, "WholeBatch", table, report=False).add_event_source(
        sources.SqsEventSource(whole, batch_size=10)
    )

    fifo_dlq = sqs.Queue(stack, "FifoDlq", fifo=True)
    fifo = sqs.Queue(
        stack,
        "Ordered",
        fifo=True,
        content_based_deduplication=True,
        visibility_timeout=Duration.seconds(30),
        dead_letter_queue=sqs.DeadLetterQueue(queue=fifo_dlq, max_receive_count=3),
    )
    _consumer(stack, "FifoConsumer", table, report=True).add_event_source(
        sources.SqsEventSource(fifo, batch_size=10, report_batch_item_failures=True)
    )

    filtered = sqs.Queue(stack, "Filtered")
    _consumer(stack, "Picky", table, report=True).add_event_source(
        sources.SqsEventSource(
            filtered,
            batch_size=10,
            max_batching_window=Duration.seconds(20),
            filters=[lambda_.FilterCriteria.filter({"body": {"kind": lambda_.FilterRule.is_equal("keep")}})],
        )
    )
    bulk = sqs.Queue(stack, "Bulk", visibility_timeout=Duration.seconds(30))
    _consumer(stack, "BulkConsumer", table, report=False).add_event_source(
        sources.SqsEventSource(bulk, batch_size=15, max_batching_window=Duration.seconds(1))
    )


@pytest.fixture
def sqs_cloud(synth, run) -> LocalCloud:
    return run(synth("SqsSemantics", build_sqs))


def url(cloud: LocalCloud, name: str) -> str:
    return cloud.physical_id(name)


def seen(cloud: LocalCloud) -> list[dict]:
    return cloud.client("dynamodb").scan(TableName=cloud.physical_id("Seen"))["Items"]


def send(cloud: LocalCloud, queue: str, *bodies: str, **extra) -> None:
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=url(cloud, queue), MessageBody=body, **extra)


def test_poison_message_reaches_the_dlq_after_max_receive_count(sqs_cloud):
    send(sqs_cloud, "Work", "good-1", "poison-1", "good-2")
    sqs_cloud.drain()
    bodies = [item["pk"]["S"] for item in seen(sqs_cloud)]
    assert sorted(bodies) == ["good-1#1", "good-2#1", "poison-1#1", "poison-1#2"], (
        "two receives, then the DLQ"
    )
    dead = sqs_cloud.client("sqs").receive_message(QueueUrl=url(sqs_cloud, "Dlq"))["Messages"]
    assert [m["Body"] for m in dead] == ["poison-1"]
    assert sqs_cloud.trace.find("redrive")[0].outcome == "dead-lettered"
    assert sqs_cloud.clock.elapsed() == pytest.approx(60, abs=0.01), (
        "two visibility timeouts of 30 s, no sleeping"
    )


def test_partial_batch_response_retries_only_the_failed_items(sqs_cloud):
    send(sqs_cloud, "Work", "good-1", "poison-1", "good-2", "good-3")
    sqs_cloud.drain()
    deliveries = sqs_cloud.trace.find("deliver")
    assert [len(d.data["message_ids"]) for d in deliveries] == [4, 1], (
        "the retry carries the failed message alone"
    )
    assert sorted(i["pk"]["S"] for i in seen(sqs_cloud) if i["body"]["S"].startswith("good")) == [
        "good-1#1",
        "good-2#1",
        "good-3#1",
    ]


def test_a_function_error_returns_the_whole_batch(sqs_cloud):
    send(sqs_cloud, "Whole", "good-1", "poison-1")
    sqs_cloud.advance(31)
    receives = sorted(i["pk"]["S"] for i in seen(sqs_cloud))
    assert receives == ["good-1#1", "good-1#2", "poison-1#1", "poison-1#2"], (
        "both came back after the timeout"
    )


def test_fifo_keeps_group_order_while_another_group_is_blocked(sqs_cloud):
    def send_to_group(body: str, group: str) -> None:
        sqs_cloud.client("sqs").send_message(
            QueueUrl=url(sqs_cloud, "Ordered"), MessageBody=body, MessageGroupId=group
        )

    for body, group in [("a-1", "A"), ("poison-a", "A"), ("a-3", "A"), ("b-1", "B")]:
        send_to_group(body, group)
    sqs_cloud.advance(0)
    assert {i["pk"]["S"] for i in seen(sqs_cloud)} == {"a-1#1", "poison-a#1", "b-1#1"}
    send_to_group("b-2", "B")
    sqs_cloud.advance(1)
    assert "b-2#1" in {i["pk"]["S"] for i in seen(sqs_cloud)}, "group B goes on while group A is blocked"
    sqs_cloud.drain()
    processed_a = [i["pk"]["S"] for i in seen(sqs_cloud) if i["group"]["S"] == "A"]
    assert not any(key.startswith("a-3") for key in processed_a), "a-3 never overtakes poison-a"
    dead = sqs_cloud.client("sqs").receive_message(QueueUrl=url(sqs_cloud, "FifoDlq"), MaxNumberOfMessages=10)
    assert [m["Body"] for m in dead["Messages"]] == ["poison-a", "a-3"], "the group reaches the DLQ in order"


def test_filter_criteria_and_batching_window(sqs_cloud):
    for n, kind in enumerate(("keep", "drop", "keep")):
        send(sqs_cloud, "Filtered", json.dumps({"kind": kind, "n": n}))
    sqs_cloud.advance(10)
    assert seen(sqs_cloud) == [], "the batching window holds a part batch for 20 s"
    sqs_cloud.advance(10)
    kept = [json.loads(i["body"]["S"])["kind"] for i in seen(sqs_cloud)]
    assert kept == ["keep", "keep"]
    leftover = sqs_cloud.client("sqs").get_queue_attributes(
        QueueUrl=url(sqs_cloud, "Filtered"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert leftover["Attributes"]["ApproximateNumberOfMessages"] == "0", "filtered-out messages are deleted"
    sqs_cloud.advance(60)
    assert [len(d.data["message_ids"]) for d in sqs_cloud.trace.find("deliver")] == [2]
    assert (
        sqs_cloud.service("sqs").moto_queue(sqs_cloud.physical_id("Filtered").rsplit("/", 1)[1])._messages
        == []
    ), "deleted, not merely received: nothing comes back after the visibility timeout"


def test_redeliveries_come_at_each_messages_own_visibility_expiry(sqs_cloud):
    """The clock stops at the earliest moment something is due, so no redelivery is late."""
    send(sqs_cloud, "Work", "poison-1")
    sqs_cloud.advance(10)
    send(sqs_cloud, "Work", "poison-2")
    sqs_cloud.drain()
    deliveries = sqs_cloud.trace.find("deliver")
    assert [round(d.at) for d in deliveries] == [0, 10, 30, 40]
    assert [len(d.data["message_ids"]) for d in deliveries] == [1, 1, 1, 1]
    assert [round(r.at) for r in sqs_cloud.trace.find("redrive")] == [60, 70]


def test_the_batching_window_counts_only_messages_that_could_be_received(sqs_cloud):
    """Delayed messages do not fill a batch: the one visible message waits out the 20 s window."""
    send(sqs_cloud, "Filtered", *[json.dumps({"kind": "keep", "n": n}) for n in range(10)], DelaySeconds=60)
    send(sqs_cloud, "Filtered", json.dumps({"kind": "keep", "n": "now"}))
    sqs_cloud.drain()
    deliveries = sqs_cloud.trace.find("deliver")
    assert [(round(d.at), len(d.data["message_ids"])) for d in deliveries] == [(20, 1), (60, 10)]


def test_an_in_flight_message_does_not_fill_the_batching_window(sqs_cloud):
    """Ten received, still invisible messages leave the window to run its 20 s for a new one."""
    sqs = sqs_cloud.client("sqs")
    send(sqs_cloud, "Filtered", *[json.dumps({"kind": "keep", "n": n}) for n in range(10)])
    held = sqs.receive_message(
        QueueUrl=url(sqs_cloud, "Filtered"), MaxNumberOfMessages=10, VisibilityTimeout=300
    )
    assert len(held["Messages"]) == 10
    send(sqs_cloud, "Filtered", json.dumps({"kind": "keep", "n": "now"}))
    sqs_cloud.advance(19)
    assert sqs_cloud.trace.find("deliver") == []
    sqs_cloud.advance(1)
    assert [len(d.data["message_ids"]) for d in sqs_cloud.trace.find("deliver")] == [1]


def test_a_batch_size_above_ten_is_never_exceeded(sqs_cloud):
    """BatchSize 15 is read ten messages at a time, the second read asking for the five left."""
    send(sqs_cloud, "Bulk", *[f"m-{i}" for i in range(25)])
    sqs_cloud.drain()
    assert [len(d.data["message_ids"]) for d in sqs_cloud.trace.find("deliver")] == [15, 10]
    assert len(seen(sqs_cloud)) == 25


def test_an_unknown_item_identifier_fails_the_whole_batch(sqs_cloud):
    """Lambda treats a batchItemFailures entry naming no message of the batch as a failed batch."""
    send(sqs_cloud, "Work", "good-1", "unknown-1")
    sqs_cloud.advance(0)
    [first] = sqs_cloud.trace.find("deliver")
    assert first.outcome == "invalid batchItemFailures: the whole batch returns"
    sqs_cloud.advance(31)
    deliveries = sqs_cloud.trace.find("deliver")
    assert [(round(d.at), len(d.data["message_ids"])) for d in deliveries] == [(0, 2), (30, 2)]
    assert sorted(i["pk"]["S"] for i in seen(sqs_cloud)) == [
        "good-1#1",
        "good-1#2",
        "unknown-1#1",
        "unknown-1#2",
    ]


def test_maximum_concurrency_caps_batches_in_flight(sqs_cloud):
    consumer = sqs_cloud.function("Consumer")
    consumer.duration = 1.0
    send(sqs_cloud, "Work", *[f"m-{i}" for i in range(40)])
    sqs_cloud.drain()
    invokes = sqs_cloud.trace.find("invoke", target=consumer.name)
    assert len(invokes) == 8 and len(seen(sqs_cloud)) == 40
    starts = sorted({span.at for span in invokes})
    assert starts == [0, 1, 2, 3], "two batches of five per second"
    assert max(sqs_cloud.service("lambda").invoker.concurrency_at(consumer, t) for t in starts) == 2


def test_the_mapping_is_refused_unless_the_role_may_receive_delete_and_read_attributes(sqs_cloud):
    picky = sqs_cloud.function("Picky")  # its role may read the Filtered queue, not Work
    work = sqs_cloud.service("sqs").queue_arn(url(sqs_cloud, "Work"))
    props = {"EventSourceArn": work, "BatchSize": 10}
    for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
        with pytest.raises(
            InvalidRequest,
            match=f"InvalidParameterValueException: The provided execution role does not have permissions "
            f"to call {action} on SQS",
        ):
            sqs_cloud.service("lambda").add_event_source("PickyOnWork", "picky-on-work", picky, props)
        granted = {"Statement": [{"Effect": "Allow", "Action": f"sqs:{action}", "Resource": work}]}
        sqs_cloud.iam.add_identity_policy(picky.role_arn, granted, f"test-{action}")
    sqs_cloud.service("lambda").add_event_source("PickyOnWork", "picky-on-work", picky, props)
    [mapping] = [p for p in sqs_cloud.kernel.pollables if getattr(p, "id", None) == "picky-on-work"]
    assert (mapping.function, mapping.queue_arn) == (picky, work), "granted all three, the mapping is made"


# ---------------------------------------------------------------------------------------- async


def build_async(stack: Stack) -> None:
    failures = sqs.Queue(stack, "Failures")
    python_function(
        stack,
        "Flaky",
        "flaky",
        retry_attempts=2,
        max_event_age=Duration.hours(1),
        on_failure=destinations.SqsDestination(failures),
    )
    dead = sqs.Queue(stack, "Dead")
    python_function(stack, "FlakyWithDlq", "flaky", dead_letter_queue=dead, retry_attempts=1)
    python_function(stack, "Paused", "flaky", reserved_concurrent_executions=0)
    recipient = python_function(stack, "Recipient", "flaky")
    python_function(
        stack,
        "FlakyToFunction",
        "flaky",
        retry_attempts=0,
        on_failure=destinations.LambdaDestination(recipient, response_only=False),
    )
    bus = events.EventBus(stack, "Results")
    results = sqs.Queue(stack, "ResultEvents")
    events.Rule(
        stack,
        "FromLambda",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["lambda"]),
        targets=[targets.SqsQueue(results)],
    )
    python_function(
        stack, "FlakyToBus", "flaky", retry_attempts=0, on_failure=destinations.EventBridgeDestination(bus)
    )


@pytest.fixture
def async_cloud(synth, run) -> LocalCloud:
    return run(synth("AsyncSemantics", build_async))


def test_async_event_is_retried_then_sent_to_the_failure_destination(async_cloud):
    response = async_cloud.invoke("Flaky", {"fail": True, "id": "e-1"}, invocation_type="Event")
    assert response == {"StatusCode": 202}
    async_cloud.drain()
    attempts = async_cloud.trace.find("invoke", target=async_cloud.function("Flaky").name)
    assert [span.at for span in attempts] == [0, 60, 180], "first try, then 1 and 2 minutes of back-off"
    [message] = async_cloud.client("sqs").receive_message(QueueUrl=async_cloud.physical_id("Failures"))[
        "Messages"
    ]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"fail": True, "id": "e-1"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_a_function_destination_gets_the_invocation_record_as_an_asynchronous_event(async_cloud):
    async_cloud.invoke("FlakyToFunction", {"fail": True, "id": "e-3"}, invocation_type="Event")
    async_cloud.drain()
    recipient = async_cloud.function("Recipient").name
    [sent] = async_cloud.trace.find("destination")
    [queued] = async_cloud.trace.find("enqueue", target=recipient)
    assert (queued.parent, queued.source) == (sent.id, async_cloud.function("FlakyToFunction").name)
    [delivered] = async_cloud.trace.find("invoke", target=recipient)
    assert (delivered.parent, delivered.outcome) == (queued.id, "ok"), "the record has no 'fail' key"


def test_a_bus_destination_gets_the_record_as_lambdas_event(async_cloud):
    async_cloud.invoke("FlakyToBus", {"fail": True, "id": "e-4"}, invocation_type="Event")
    async_cloud.drain()
    [message] = async_cloud.client("sqs").receive_message(QueueUrl=async_cloud.physical_id("ResultEvents"))[
        "Messages"
    ]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("lambda", "Lambda Function Invocation Result")
    assert event["detail"]["requestPayload"] == {"fail": True, "id": "e-4"}
    assert event["detail"]["requestContext"]["condition"] == "RetriesExhausted"


def test_a_destination_the_role_may_not_send_to_fails_loudly(async_cloud):
    role = async_cloud.function("FlakyToFunction").role_arn
    deny = {"Statement": [{"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}
    async_cloud.iam.add_identity_policy(role, deny, "test-deny")
    async_cloud.invoke("FlakyToFunction", {"fail": True, "id": "e-5"}, invocation_type="Event")
    with pytest.raises(ClientError) as error:
        async_cloud.drain()
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert not async_cloud.trace.find("invoke", target=async_cloud.function("Recipient").name)


def test_async_success_needs_no_retry(async_cloud):
    async_cloud.invoke("Flaky", {"id": "ok"}, invocation_type="Event")
    async_cloud.drain()
    assert len(async_cloud.trace.find("invoke")) == 1
    assert "Messages" not in async_cloud.client("sqs").receive_message(
        QueueUrl=async_cloud.physical_id("Failures")
    )


def test_async_failure_without_destination_goes_to_the_dlq_as_the_original_event(async_cloud):
    async_cloud.invoke("FlakyWithDlq", {"fail": True, "id": "e-2"}, invocation_type="Event")
    async_cloud.drain()
    [message] = async_cloud.client("sqs").receive_message(QueueUrl=async_cloud.physical_id("Dead"))[
        "Messages"
    ]
    assert json.loads(message["Body"]) == {"fail": True, "id": "e-2"}
    assert len(async_cloud.trace.find("invoke")) == 2, "one retry was configured"


def test_reserved_concurrency_of_zero_throttles_like_aws(async_cloud):
    with pytest.raises(ClientError) as error:
        boto3.client("lambda").invoke(FunctionName=async_cloud.function("Paused").name, Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert async_cloud.trace.find("throttle")[0].outcome == "429"


def test_dry_run_and_sdk_invoke_reach_the_local_function(async_cloud):
    name = async_cloud.function("Flaky").name
    client = boto3.client("lambda")
    assert client.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    answer = client.invoke(FunctionName=name, Payload=json.dumps({"id": "x"}).encode())
    assert json.loads(answer["Payload"].read()) == {"ok": "x"}
    failed = client.invoke(FunctionName=name, Payload=json.dumps({"fail": True}).encode())
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "RuntimeError"


# ---------------------------------------------------------------------------------------- runtime


def build_twins(stack: Stack) -> None:
    python_function(stack, "TwinA", "twin_a", environment={"WHO": "a"}, timeout=Duration.seconds(7))
    python_function(stack, "TwinB", "twin_b", environment={"WHO": "b"})


def test_functions_keep_their_own_modules_environment_and_warm_state(synth, run):
    cloud = run(synth("Twins", build_twins))
    first_a = cloud.invoke("TwinA")["Payload"]
    first_b = cloud.invoke("TwinB")["Payload"]
    assert (first_a["name"], first_a["who"]) == ("twin-a", "a")
    assert (first_b["name"], first_b["who"]) == ("twin-b", "b"), "same module names, separate modules"
    assert first_a["remaining_ms"] == 7000
    assert cloud.invoke("TwinA")["Payload"]["invocations_since_cold_start"] == 2, "warm: module state kept"
    cloud.function("TwinA").reset()
    assert cloud.invoke("TwinA")["Payload"]["invocations_since_cold_start"] == 1, "cold again after reset"
    assert [s.data["cold_start"] for s in cloud.trace.find("invoke")] == [True, True, False, True]


# ---------------------------------------------------------------------------------------- IAM


def build_iam(stack: Stack) -> None:
    granted, other = pk_table(stack, "Granted"), pk_table(stack, "Other")
    writer = python_function(
        stack, "Writer", "writer", environment={"GRANTED": granted.table_name, "OTHER": other.table_name}
    )
    granted.grant_write_data(writer)


def test_a_missing_grant_is_access_denied_offline(synth, run):
    cloud = run(synth("IamSemantics", build_iam))
    assert cloud.invoke("Writer", {"table": "GRANTED", "key": "k"})["Payload"] == {"written": "k"}
    denied = cloud.invoke("Writer", {"table": "OTHER", "key": "k"})
    assert denied["FunctionError"] == "Unhandled"
    message = denied["Payload"]["errorMessage"]
    assert "AccessDeniedException" in message and "dynamodb:PutItem" in message and "Other" in message
    assert cloud.trace.find("denied")[0].outcome == "AccessDenied"
    assert cloud.client("dynamodb").scan(TableName=cloud.physical_id("Other"))["Items"] == []


def test_unused_grants_are_listed(synth, run):
    cloud = run(synth("IamSemantics", build_iam))
    cloud.invoke("Writer", {"table": "GRANTED", "key": "k"})
    unused = cloud.unused_grants()
    assert any("dynamodb:BatchWriteItem" in line for line in unused)
    assert not any("dynamodb:PutItem" in line for line in unused)


# ---------------------------------------------------------------------------------------- errors


def test_an_unknown_resource_type_is_a_clear_error(synth):
    artifact = synth("Unknown", lambda stack: CfnResource(stack, "Mystery", type="AWS::Foo::Bar"))
    with pytest.raises(
        UnsupportedResourceType,
        match=r"Mystery \(Unknown/Mystery\): resource type AWS::Foo::Bar is not supported",
    ) as raised:
        LocalCloud(artifact).start()
    # What a user of the installed package can do: not edit the package's own folders.
    assert "leave it out of the stack under test" in str(raised.value)
    assert "Adding a service" in str(raised.value) and "localcloud/services/" not in str(raised.value)


def build_loop(stack: Stack) -> None:
    queue = sqs.Queue(stack, "Loop")
    echo = python_function(stack, "Echo", "echo", environment={"QUEUE_URL": queue.queue_url})
    queue.grant_send_messages(echo)
    echo.add_event_source(sources.SqsEventSource(queue))


def test_drain_stops_a_loop_with_a_clear_error(synth, run):
    cloud = run(synth("Loop", build_loop))
    cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("Loop"), MessageBody="again")
    with pytest.raises(DrainLimitExceeded, match="events may loop"):
        cloud.drain(max_steps=20)


def test_the_trace_tells_cause_and_effect_as_a_tree_and_a_sequence_diagram(sqs_cloud):
    send(sqs_cloud, "Work", "good-1")
    sqs_cloud.drain()
    tree = sqs_cloud.trace.tree().splitlines()
    assert tree[0].startswith("- [t=0s] send test -> sqs:Work message ")
    assert tree[1].strip() == "- [t=0s] deliver sqs:Work -> Consumer batch of 1: deleted"
    assert tree[2].strip() == "- [t=0s] invoke sqs:Work -> Consumer: ok"
    physical = sqs_cloud.trace.tree(physical=True)
    assert f"-> {sqs_cloud.function('Consumer').name}: ok" in physical, "physical names on demand"
    diagram = sqs_cloud.trace.mermaid().splitlines()
    assert diagram[:4] == [
        "sequenceDiagram",
        "    participant A1 as test",
        "    participant A2 as sqs:Work",
        "    participant A3 as Consumer",
    ]
    assert diagram[5:] == ["    A2-)A3: deliver: batch of 1 (deleted)", "    A2->>A3: invoke (ok)"]


def test_a_stack_object_runs_directly(tmp_path):
    stack = Stack(App(outdir=str(tmp_path), context=SYNTH_METADATA), "FromObject")
    build_twins(stack)
    with LocalCloud.from_stack(stack) as cloud:
        assert cloud.invoke("TwinB")["Payload"]["name"] == "twin-b"
