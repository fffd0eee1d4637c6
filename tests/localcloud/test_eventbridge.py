"""EventBridge offline: rules on custom and default buses, input settings, every target kind the
patterns use, retries and dead-letter queues, scheduled rules and EventBridge Scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from localcloud import LocalCloud, LocalCloudError
from localcloud.core import targets as delivery
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    table = pk_table(stack, "Seen")
    recorder = python_function(
        stack, "Recorder", "event_recorder", environment={"TABLE_NAME": table.table_name}
    )
    table.grant_write_data(recorder)
    orders = events.EventBus(stack, "Orders")
    audit = events.EventBus(stack, "Audit")
    topic = sns.Topic(stack, "Topic")
    topic.add_subscription(
        subscriptions.SqsSubscription(sqs.Queue(stack, "FromTopic"), raw_message_delivery=True)
    )
    events.Rule(
        stack,
        "Placed",
        event_bus=orders,
        event_pattern=events.EventPattern(
            source=["shop"], detail_type=["OrderPlaced"], detail={"amount": events.Match.greater_than(100)}
        ),
        targets=[
            targets.LambdaFunction(recorder),
            targets.SqsQueue(sqs.Queue(stack, "PlacedQueue")),
            targets.SnsTopic(topic),
            targets.EventBus(audit),
        ],
    )
    events.Rule(
        stack,
        "Audited",
        event_bus=audit,
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[targets.SqsQueue(sqs.Queue(stack, "AuditQueue"))],
    )
    order_id = events.EventField.from_path("$.detail.id")
    events.Rule(
        stack,
        "Shipped",
        event_bus=orders,
        event_pattern=events.EventPattern(detail_type=["OrderShipped"]),
        targets=[
            targets.LambdaFunction(
                recorder,
                event=events.RuleTargetInput.from_object(
                    {"order": order_id, "items": events.EventField.from_path("$.detail.items"), "fixed": 1}
                ),
            ),
            targets.SqsQueue(
                sqs.Queue(stack, "TextQueue"),
                message=events.RuleTargetInput.from_text(f"order {order_id} shipped"),
            ),
            targets.SqsQueue(
                sqs.Queue(stack, "DetailQueue"), message=events.RuleTargetInput.from_event_path("$.detail")
            ),
        ],
    )
    events.Rule(
        stack,
        "Legacy",
        event_pattern=events.EventPattern(source=["legacy"]),
        targets=[targets.SqsQueue(sqs.Queue(stack, "LegacyQueue"))],
    )
    events.Rule(
        stack,
        "Every5Minutes",
        schedule=events.Schedule.rate(Duration.minutes(5)),
        targets=[targets.LambdaFunction(recorder)],
    )
    scheduler.Schedule(
        stack,
        "Nightly",
        schedule=scheduler.ScheduleExpression.cron(minute="0", hour="2"),
        target=scheduler_targets.LambdaInvoke(
            recorder,
            input=scheduler.ScheduleTargetInput.from_object(
                {"job": "nightly", "at": scheduler.ContextAttribute.scheduled_time}
            ),
        ),
    )

    # Failure paths share one dead-letter queue.
    dlq = sqs.Queue(stack, "RuleDlq")
    events.Rule(
        stack,
        "Throttled",
        event_bus=orders,
        event_pattern=events.EventPattern(source=["throttled"]),
        targets=[
            targets.SqsQueue(
                sqs.Queue(stack, "SlowQueue"),
                retry_attempts=2,
                max_event_age=Duration.hours(1),
                dead_letter_queue=dlq,
            )
        ],
    )
    # A rule made without the L2 construct, so without the Lambda permission EventBridge needs.
    unpermitted = events.CfnRule(
        stack,
        "Unpermitted",
        event_bus_name=orders.event_bus_name,
        event_pattern={"source": ["unpermitted"]},
        targets=[
            events.CfnRule.TargetProperty(
                id="Recorder",
                arn=recorder.function_arn,
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dlq.queue_arn),
            )
        ],
    )
    dlq.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[dlq.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": unpermitted.attr_arn}},
        )
    )


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    return run(synth("EventBridgeSemantics", build))


def put(
    cloud: LocalCloud, detail_type: str, detail: dict, *, source: str = "shop", bus: str | None = "Orders"
):
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    if bus:
        entry["EventBusName"] = cloud.physical_id(bus)
    response = cloud.client("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0
    return response["Entries"][0]["EventId"]


def recorded(cloud: LocalCloud) -> list:
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Seen"))["Items"]
    return [json.loads(item["event"]["S"]) for item in items]


def messages(cloud: LocalCloud, queue: str) -> list[dict]:
    return (
        cloud.client("sqs")
        .receive_message(
            QueueUrl=cloud.physical_id(queue), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )


def test_a_matching_event_reaches_every_target_of_the_rule(cloud):
    event_id = put(cloud, "OrderPlaced", {"id": "o-1", "amount": 150})
    cloud.drain()
    [event] = recorded(cloud)
    assert event["id"] == event_id
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "shop",
        "OrderPlaced",
        {"id": "o-1", "amount": 150},
    )
    assert (event["account"], event["region"], event["time"]) == (
        cloud.account,
        cloud.region,
        "2026-01-01T00:00:00Z",
    )
    assert [json.loads(m["Body"]) for m in messages(cloud, "PlacedQueue")] == [event]
    assert [json.loads(m["Body"])["id"] for m in messages(cloud, "FromTopic")] == [event_id], "through SNS"
    [audited] = [json.loads(m["Body"]) for m in messages(cloud, "AuditQueue")]
    assert audited["detail"] == event["detail"], "forwarded to the audit bus and matched there"


def test_entries_over_eventbridges_1_mb_quota_are_refused_and_none_is_delivered(cloud):
    events = cloud.client("events")
    base = {"Source": "shop", "DetailType": "OrderPlaced", "EventBusName": cloud.physical_id("Orders")}
    room = 1_048_576 - len("shopOrderPlaced") - len('{"id": "big", "amount": 150, "pad": ""}')
    at_limit = {**base, "Detail": json.dumps({"id": "big", "amount": 150, "pad": "x" * room})}
    assert events.put_events(Entries=[at_limit])["FailedEntryCount"] == 0
    split = {**base, "Detail": json.dumps({"id": "split", "amount": 150, "pad": "x" * (room // 2)})}
    with pytest.raises(events.exceptions.ClientError, match="over the limit") as refused:
        events.put_events(Entries=[split, split])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(events.exceptions.ClientError, match="over the limit"):
        events.put_events(Entries=[{**at_limit, "Time": datetime(2026, 1, 1, tzinfo=UTC)}])
    sent = [span for span in cloud.trace.spans if span.target == f"events:{cloud.physical_id('Orders')}"]
    assert len(sent) == 1, "only the entry within the quota reached the bus"


def test_events_that_match_no_rule_go_nowhere(cloud):
    put(cloud, "OrderPlaced", {"id": "small", "amount": 50})
    put(cloud, "OrderPlaced", {"id": "wrong-bus", "amount": 500}, bus=None)
    put(cloud, "OrderPlaced", {"id": "wrong-source", "amount": 500}, source="elsewhere")
    cloud.drain()
    assert recorded(cloud) == []
    for queue in ("PlacedQueue", "FromTopic", "AuditQueue", "LegacyQueue"):
        assert messages(cloud, queue) == [], queue
    assert {span.outcome for span in cloud.trace.find("send")} == {"no rule matched"}


def test_the_default_bus_has_its_own_rules(cloud):
    put(cloud, "Anything", {"n": 1}, source="legacy", bus=None)
    put(cloud, "Anything", {"n": 2}, source="legacy", bus="Orders")
    cloud.drain()
    assert [json.loads(m["Body"])["detail"] for m in messages(cloud, "LegacyQueue")] == [{"n": 1}]


def test_input_transformer_text_and_input_path(cloud):
    put(cloud, "OrderShipped", {"id": "o-7", "items": ["a", "b"]})
    cloud.drain()
    assert recorded(cloud) == [{"order": "o-7", "items": ["a", "b"], "fixed": 1}]
    [text] = messages(cloud, "TextQueue")
    assert text["Body"] == '"order o-7 shipped"', "a text template is a JSON string, quotes included"
    [detail] = messages(cloud, "DetailQueue")
    assert json.loads(detail["Body"]) == {"id": "o-7", "items": ["a", "b"]}


def test_a_rate_rule_fires_as_time_passes(cloud):
    cloud.drain()
    assert recorded(cloud) == [] and cloud.clock.elapsed() == 0, "drain() does not wait for a schedule"
    cloud.advance(299)
    assert recorded(cloud) == []
    cloud.advance(1)
    [event] = recorded(cloud)
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    assert event["time"] == "2026-01-01T00:05:00Z"
    assert event["resources"] == [
        cloud.client("events").describe_rule(Name=cloud.physical_id("Every5Minutes"))["Arn"]
    ]
    cloud.advance(600)
    assert sorted(e["time"] for e in recorded(cloud)) == [
        "2026-01-01T00:05:00Z",
        "2026-01-01T00:10:00Z",
        "2026-01-01T00:15:00Z",
    ]


def test_a_scheduler_cron_schedule_invokes_with_its_input(cloud):
    cloud.advance(3 * 3600)
    nightly = [e for e in recorded(cloud) if e.get("job") == "nightly"]
    assert nightly == [{"job": "nightly", "at": "2026-01-01T02:00:00Z"}]
    [invoke] = [s for s in cloud.trace.find("enqueue") if s.source.startswith("schedule:")]
    assert invoke.at == 7200


def test_a_target_that_may_not_be_invoked_goes_to_its_dlq_without_retries(cloud):
    event_id = put(cloud, "Anything", {"n": 1}, source="unpermitted")
    cloud.drain()
    assert recorded(cloud) == [], "no permission lets EventBridge invoke the function"
    [dead] = messages(cloud, "RuleDlq")
    assert json.loads(dead["Body"])["id"] == event_id, "the dead letter is the event"
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException"
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["RULE_ARN"].endswith(cloud.physical_id("Unpermitted").split("|")[-1])
    assert attributes["TARGET_ARN"] == cloud.function("Recorder").arn
    assert len(cloud.trace.find("deliver", target=cloud.function("Recorder").name)) == 1


@pytest.fixture
def throttling(monkeypatch):
    """Make calls to the slow queue fail with ThrottlingException the first ``n`` times."""
    failures = {"left": 0}
    real_call = delivery.call

    def call(cloud, sender, arn, body, **kwargs):
        if "SlowQueue" in arn and failures["left"] > 0:
            failures["left"] -= 1
            raise delivery.DeliveryError("ThrottlingException", "Rate exceeded", retryable=True)
        return real_call(cloud, sender, arn, body, **kwargs)

    monkeypatch.setattr(delivery, "call", call)
    return failures


def test_a_throttled_target_is_retried_with_back_off(cloud, throttling):
    throttling["left"] = 2
    put(cloud, "Anything", {"n": 1}, source="throttled")
    cloud.drain()
    attempts = [
        s for s in cloud.trace.find("deliver") if s.target.startswith("sqs:") and "SlowQueue" in s.target
    ]
    assert [span.at for span in attempts] == [0, 1, 3], "after 1 s, then 2 s"
    assert [json.loads(m["Body"])["detail"] for m in messages(cloud, "SlowQueue")] == [{"n": 1}]
    assert messages(cloud, "RuleDlq") == []


def test_a_target_that_keeps_failing_ends_in_its_dlq_after_its_retry_policy(cloud, throttling):
    throttling["left"] = 100
    event_id = put(cloud, "Anything", {"n": 1}, source="throttled")
    cloud.drain()
    [dead] = messages(cloud, "RuleDlq")
    assert json.loads(dead["Body"])["id"] == event_id
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "ThrottlingException"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert messages(cloud, "SlowQueue") == []


def test_an_unsupported_target_is_a_clear_error(synth):
    def build_ecs_target(stack: Stack) -> None:
        events.CfnRule(
            stack,
            "RunTask",
            event_pattern={"source": ["x"]},
            targets=[
                events.CfnRule.TargetProperty(
                    id="Cluster", arn="arn:aws:ecs:us-east-1:123456789012:cluster/c"
                )
            ],
        )

    with pytest.raises(
        LocalCloudError, match=r"RunTask.Targets.Cluster: target arn:aws:ecs:.* is not supported"
    ):
        LocalCloud(synth("EcsTarget", build_ecs_target)).start()


def build_stream_targets(stack: Stack) -> None:
    bus = events.EventBus(stack, "Bus")
    machine = sfn.StateMachine.from_state_machine_arn(
        stack, "Fulfil", f"arn:aws:states:{stack.region}:{stack.account}:stateMachine:fulfil"
    )
    events.Rule(
        stack,
        "ToStreamAndMachine",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[
            targets.KinesisStream(
                kinesis.Stream(stack, "Orders", shard_count=1), partition_key_path="$.detail.id"
            ),
            targets.SfnStateMachine(machine),
        ],
    )


def test_kinesis_and_step_functions_targets_are_called_with_the_rules_roles(synth, run):
    cloud = run(synth("EventBridgeStreamTargets", build_stream_targets))
    states = cloud.client("stepfunctions")
    machine = states.create_state_machine(
        name="fulfil",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{cloud.account}:role/fulfil",
    )["stateMachineArn"]
    event_id = put(cloud, "OrderPlaced", {"id": "o-9"}, bus="Bus")
    cloud.drain()

    kinesis_client = cloud.client("kinesis")
    stream = cloud.physical_id("Orders")
    shard = kinesis_client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis_client.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    [record] = kinesis_client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert (json.loads(record["Data"])["id"], record["PartitionKey"]) == (event_id, "o-9")
    [execution] = states.list_executions(stateMachineArn=machine)["executions"]
    assert (
        json.loads(states.describe_execution(executionArn=execution["executionArn"])["input"])["id"]
        == event_id
    )


def test_a_queue_without_a_policy_refuses_the_rule_and_the_event_reaches_the_dlq(synth, run):
    """EventBridge may only send to a queue whose policy lets it in; a queue with none refuses it,
    and the event goes to the rule's DLQ (whose policy does let EventBridge in)."""

    def build_closed(stack: Stack) -> None:
        closed = sqs.CfnQueue(stack, "Closed")
        dead = sqs.Queue(stack, "Dead")
        dead.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dead.queue_arn],
            )
        )
        bus = events.EventBus(stack, "Bus")
        events.CfnRule(
            stack,
            "ToClosed",
            event_bus_name=bus.event_bus_name,
            event_pattern={"source": ["closed.test"]},
            targets=[
                events.CfnRule.TargetProperty(
                    id="Closed",
                    arn=closed.attr_arn,
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead.queue_arn),
                )
            ],
        )

    cloud = run(synth("ClosedQueue", build_closed))
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": "closed.test",
                "DetailType": "t",
                "Detail": "{}",
                "EventBusName": cloud.physical_id("Bus"),
            }
        ]
    )
    cloud.drain()
    closed = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Closed")).get("Messages", [])
    assert closed == []
    dead = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Dead"), VisibilityTimeout=0)
    assert len(dead.get("Messages", [])) == 1
