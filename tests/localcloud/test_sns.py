"""SNS on purpose-built stacks: filter policies, raw delivery, Lambda subscribers, redrive, FIFO.

Every subscriber of the fan-out topic has its own queue (a function forwards what it gets to the
``Seen`` queue, tagged with its name), so each test reads exactly what each subscriber got.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from botocore.exceptions import ClientError

from localcloud import LocalCloud, LocalCloudError
from localcloud.core import targets
from localcloud.core.assembly import StackArtifact
from localcloud.services.sns import observe
from tests.localcloud.conftest import python_function
from tests.localcloud.messaging import bodies, caused_by, forwarded, forwarder, queue_label, received

pytestmark = pytest.mark.localcloud

RED = {"color": {"DataType": "String", "StringValue": "red"}}
BLUE = {"color": {"DataType": "String", "StringValue": "blue"}}


def build_fan_out(stack: Stack) -> None:
    key = kms.Key(stack, "OrdersKey", enable_key_rotation=True)
    kms.Alias(stack, "OrdersKeyAlias", alias_name="alias/orders", target_key=key)
    topic = sns.Topic(stack, "Orders", master_key=key)
    CfnOutput(stack, "TopicArn", value=topic.topic_arn)
    CfnOutput(stack, "TopicName", value=topic.topic_name)
    CfnOutput(stack, "KeyArn", value=key.key_arn)
    seen = sqs.Queue(stack, "Seen")
    string = sns.SubscriptionFilter.string_filter

    def subscribed_queue(construct_id: str, **options) -> None:
        topic.add_subscription(subscriptions.SqsSubscription(sqs.Queue(stack, construct_id), **options))

    subscribed_queue("Everything")
    subscribed_queue("RedOnly", filter_policy={"color": string(allowlist=["red"])})
    subscribed_queue(
        "BigOnly",
        filter_policy_with_message_body={
            "order": sns.FilterOrPolicy.policy({"size": sns.FilterOrPolicy.filter(string(allowlist=["big"]))})
        },
    )
    subscribed_queue("Raw", raw_message_delivery=True)
    topic.add_subscription(
        subscriptions.LambdaSubscription(
            forwarder(stack, "BlueFunction", seen), filter_policy={"color": string(allowlist=["blue"])}
        )
    )
    topic.add_subscription(
        subscriptions.LambdaSubscription(
            forwarder(stack, "SmallFunction", seen),
            filter_policy_with_message_body={
                "order": sns.FilterOrPolicy.policy(
                    {"size": sns.FilterOrPolicy.filter(string(allowlist=["small"]))}
                )
            },
        )
    )
    publisher = python_function(stack, "Publisher", "publisher", environment={"TOPIC_ARN": topic.topic_arn})
    topic.grant_publish(publisher)
    # May publish to the topic, but not use its key: SNS refuses it (KMSAccessDenied).
    keyless = python_function(
        stack, "KeylessPublisher", "publisher", environment={"TOPIC_ARN": topic.topic_arn}
    )
    keyless.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))


def build_redrive(stack: Stack) -> None:
    topic = sns.Topic(stack, "Alerts")
    CfnOutput(stack, "TopicArn", value=topic.topic_arn)
    dead_letters = sqs.Queue(stack, "DeadLetters")

    def closed_queue(construct_id: str) -> sqs.Queue:
        """A queue whose policy lets S3 send, not SNS: the topic's deliveries are refused."""
        queue = sqs.Queue(stack, construct_id)
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
            )
        )
        return queue

    sns.Subscription(
        stack,
        "ClosedSubscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.SQS,
        endpoint=closed_queue("Closed").queue_arn,
        dead_letter_queue=dead_letters,
    )
    # SNS cannot use an AWS managed key (alias/aws/sqs), whatever the queue policy says (CDK's
    # SqsSubscription refuses such a queue; the plain Subscription does not look).
    managed_key = sqs.Queue(stack, "ManagedKey", encryption=sqs.QueueEncryption.KMS_MANAGED)
    managed_key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[managed_key.queue_arn],
        )
    )
    sns.Subscription(
        stack,
        "ManagedKeySubscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.SQS,
        endpoint=managed_key.queue_arn,
        dead_letter_queue=dead_letters,
    )
    # No Lambda permission for the topic: the function cannot be invoked.
    sns.Subscription(
        stack,
        "UnpermittedSubscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.LAMBDA,
        endpoint=forwarder(stack, "Unpermitted", sqs.Queue(stack, "Seen")).function_arn,
        dead_letter_queue=dead_letters,
    )
    # A customer managed key whose policy lets SNS in (CDK grants it): delivered.
    topic.add_subscription(
        subscriptions.SqsSubscription(sqs.Queue(stack, "Encrypted", encryption=sqs.QueueEncryption.KMS))
    )
    # The dead-letter queue itself refuses SNS (an AWS managed key, which SNS cannot use): lost too.
    sns.Subscription(
        stack,
        "UnreachableDeadLetterSubscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.SQS,
        endpoint=closed_queue("ClosedToo").queue_arn,
        dead_letter_queue=sqs.Queue(stack, "ManagedDeadLetters", encryption=sqs.QueueEncryption.KMS_MANAGED),
    )
    sns.Subscription(
        stack,
        "LostSubscription",
        topic=topic,
        protocol=sns.SubscriptionProtocol.SQS,
        endpoint=closed_queue("AlsoClosed").queue_arn,
    )


def build_fifo(stack: Stack) -> None:
    topic = sns.Topic(stack, "Ledger", fifo=True, content_based_deduplication=True)
    CfnOutput(stack, "TopicArn", value=topic.topic_arn)
    topic.add_subscription(
        subscriptions.SqsSubscription(sqs.Queue(stack, "LedgerQueue", fifo=True), raw_message_delivery=True)
    )


@pytest.fixture
def fan_out(synth, run) -> LocalCloud:
    return run(synth("SnsFanOut", build_fan_out))


@pytest.fixture
def redrive(synth, run) -> LocalCloud:
    return run(synth("SnsRedrive", build_redrive))


def publish(cloud: LocalCloud, message: dict | str, **options) -> str:
    """Publish to the stack's topic; a dict is sent as JSON."""
    text = message if isinstance(message, str) else json.dumps(message)
    return cloud.client("sns").publish(TopicArn=cloud.outputs["TopicArn"], Message=text, **options)[
        "MessageId"
    ]


def test_the_topic_is_encrypted_with_the_stack_key_under_its_alias(fan_out):
    attributes = fan_out.client("sns").get_topic_attributes(TopicArn=fan_out.outputs["TopicArn"])[
        "Attributes"
    ]
    assert attributes["KmsMasterKeyId"] == fan_out.outputs["KeyArn"]
    assert fan_out.outputs["TopicArn"].endswith(f":{fan_out.outputs['TopicName']}")
    key = fan_out.client("kms").describe_key(KeyId="alias/orders")["KeyMetadata"]
    assert key["Arn"] == fan_out.outputs["KeyArn"]
    assert fan_out.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


def test_each_subscriber_gets_what_its_filter_policy_selects_and_nothing_else(fan_out):
    red_big = publish(fan_out, {"order": {"size": "big"}}, MessageAttributes=RED)
    blue_small = publish(fan_out, {"order": {"size": "small"}}, MessageAttributes=BLUE)
    plain = publish(fan_out, "not json")
    fan_out.drain()

    def ids(queue: str) -> list[str]:
        return [n["MessageId"] for n in bodies(fan_out, queue)]

    assert ids("Everything") == [red_big, blue_small, plain]
    assert ids("RedOnly") == [red_big], "attribute policy"
    assert ids("BigOnly") == [red_big], "body policy; a body that is not JSON never matches"
    events = forwarded(fan_out)
    assert [e["Records"][0]["Sns"]["MessageId"] for e in events.pop("BlueFunction")] == [blue_small]
    assert [e["Records"][0]["Sns"]["MessageId"] for e in events.pop("SmallFunction")] == [blue_small]
    assert events == {}
    filtered = fan_out.trace.find("filter", outcome="filtered out")
    assert len(filtered) == 3 * 4 - 4, "four subscribers with a policy, three messages, four selected"


def test_a_queue_gets_the_sns_envelope_and_raw_delivery_the_bare_message(fan_out):
    message_id = publish(fan_out, "hello", Subject="greeting", MessageAttributes=RED)
    fan_out.drain()

    (envelope,) = bodies(fan_out, "Everything")
    assert list(envelope) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ]
    assert envelope["MessageId"] == message_id
    assert envelope["Message"] == "hello"
    assert envelope["TopicArn"] == fan_out.outputs["TopicArn"]
    assert envelope["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}

    (raw,) = received(fan_out, "Raw")
    assert raw["Body"] == "hello"
    assert raw["MessageAttributes"] == {"color": {"StringValue": "red", "DataType": "String"}}


def test_a_function_subscriber_is_invoked_asynchronously_with_the_sns_event(fan_out):
    message_id = publish(fan_out, {"order": {"size": "small"}}, MessageAttributes=BLUE)
    assert forwarded(fan_out) == {}, "not before the cloud runs what is due"
    fan_out.drain()

    (event,) = forwarded(fan_out)["BlueFunction"]
    record = SNSEvent(event).record
    assert (record.event_source, record.event_version) == ("aws:sns", "1.0")
    assert record.event_subscription_arn.startswith(fan_out.outputs["TopicArn"] + ":")
    sns_message = record.sns
    assert (sns_message.get_type, sns_message.message_id) == ("Notification", message_id)
    assert sns_message.topic_arn == fan_out.outputs["TopicArn"]
    assert sns_message.subject is None
    assert sns_message.message_attributes["color"].value == "blue"
    assert sns_message.timestamp == "2026-01-01T00:00:00.000Z"
    assert sns_message.signing_cert_url.startswith("https://sns.us-east-1.amazonaws.com/")
    assert record.event_subscription_arn in sns_message.unsubscribe_url
    assert sns_message.signature and sns_message.signature_version == "1"


def test_deliveries_hang_under_the_publishing_call_in_the_trace(fan_out):
    fan_out.invoke(
        "Publisher", {"message": json.dumps({"order": {"size": "big"}}), "attributes": {"color": "red"}}
    )
    fan_out.drain()

    invoke = fan_out.trace.find("invoke", target=fan_out.function("Publisher").name)[0]
    (send,) = caused_by(fan_out, invoke)
    assert (send.kind, send.target) == ("send", f"sns:{fan_out.outputs['TopicArn'].rsplit(':', 1)[1]}")
    delivered = {s.target for s in caused_by(fan_out, send) if s.kind == "deliver"}
    assert delivered == {queue_label(fan_out, q) for q in ("Everything", "RedOnly", "BigOnly", "Raw")}
    assert len(bodies(fan_out, "RedOnly")) == 1


def test_a_publisher_that_may_not_use_the_topic_key_is_refused_and_nothing_is_delivered(fan_out):
    answer = fan_out.invoke("KeylessPublisher", {"message": json.dumps({"order": {"size": "big"}})})
    fan_out.drain()

    assert "KMSAccessDenied" in json.dumps(answer["Payload"])
    assert "kms:GenerateDataKey" in json.dumps(answer["Payload"])
    assert bodies(fan_out, "Everything") == []
    assert fan_out.trace.find("send", target=f"sns:{fan_out.outputs['TopicName']}") == []
    fan_out.invoke("Publisher", {"message": "with the key"})
    fan_out.drain()
    assert [n["Message"] for n in bodies(fan_out, "Everything")] == ["with the key"]


def test_each_message_is_delivered_once(fan_out):
    publish(fan_out, {"order": {"size": "big"}}, MessageAttributes=RED)
    fan_out.drain()
    fan_out.advance(3600)

    assert len(bodies(fan_out, "Everything")) == 1, "moto delivers nothing itself"
    assert len(received(fan_out, "Raw")) == 1


def test_subscribing_at_runtime_is_refused_clearly(fan_out):
    queue_arn = fan_out.client("sqs").get_queue_attributes(
        QueueUrl=fan_out.physical_id("Seen"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    with pytest.raises(LocalCloudError, match="subscriptions of the template only"):
        fan_out.client("sns").subscribe(
            TopicArn=fan_out.outputs["TopicArn"], Protocol="sqs", Endpoint=queue_arn
        )


def test_a_refused_delivery_goes_to_the_subscription_dead_letter_queue(redrive):
    message_id = publish(redrive, "disk full", MessageAttributes=RED)
    redrive.drain()

    assert received(redrive, "Closed") == [] and received(redrive, "ManagedKey") == []
    assert forwarded(redrive) == {}
    dead = bodies(redrive, "DeadLetters")
    assert [n["MessageId"] for n in dead] == [message_id] * 3, "one per refused subscription"
    assert {n["Message"] for n in dead} == {"disk full"}
    assert len(bodies(redrive, "Encrypted")) == 1, "a customer managed key SNS may use"

    refusals = redrive.trace.find("deliver", outcome="refused")
    assert all(s.detail.endswith(f"({s.data['reason']})") for s in refusals), "the trace line says why"
    refused = {s.target: s.data["reason"] for s in refusals}
    assert "AccessDenied" in refused.pop(queue_label(redrive, "Closed"))
    assert "AWS managed key" in refused.pop(queue_label(redrive, "ManagedKey"))
    assert "lambda:InvokeFunction" in refused.pop(redrive.function("Unpermitted").name)
    assert "AccessDenied" in refused.pop(queue_label(redrive, "ClosedToo"))
    assert list(refused) == [queue_label(redrive, "AlsoClosed")]
    dead_lettered = redrive.trace.find("dead-letter")
    assert len(dead_lettered) == 4
    (unreachable,) = [s for s in dead_lettered if s.outcome == "refused"]
    assert unreachable.target == queue_label(redrive, "ManagedDeadLetters")
    assert received(redrive, "ManagedDeadLetters") == []
    lost = {s.parent: s for s in redrive.trace.find("discard")}
    assert {s.outcome for s in lost.values()} == {"lost"}
    assert "AWS managed key" in lost.pop(unreachable.id).detail, "the dead-letter queue refused it too"
    (no_queue,) = lost.values()
    assert "no dead-letter queue" in no_queue.detail


def test_a_fifo_topic_keeps_groups_and_drops_duplicates(synth, run):
    cloud = run(synth("SnsFifo", build_fifo))
    for body in ("debit", "credit", "debit"):
        publish(cloud, body, MessageGroupId="account-1")
    cloud.drain()

    messages = received(cloud, "LedgerQueue")
    assert [m["Body"] for m in messages] == ["debit", "credit"], (
        "the repeat within 5 minutes is not delivered"
    )
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"account-1"}
    (duplicate,) = [s for s in cloud.trace.find("send") if s.outcome.startswith("duplicate")]
    assert duplicate.target.startswith("sns:")


@pytest.mark.parametrize(
    ("scope", "policy", "reason"),
    [
        (
            "MessageAttributes",
            {"order": {"kind": ["book"]}},
            "Filter policy scope MessageAttributes does not support nested filter policy",
        ),
        ("MessageBody", {"kind": [{"wildcard": "bo*"}]}, "FilterPolicy: Unrecognized match type wildcard"),
        (
            "MessageAttributes",
            {"$or": [{"a": ["1"]}, {"kind": [{"anything-but": {"wildcard": "bo*"}}]}]},
            "FilterPolicy: Unrecognized match type wildcard",
        ),
        (
            "MessageBody",
            {"price": [{"numeric": [">", 10, "<", 5]}]},
            "FilterPolicy: Bottom must be less than top",
        ),
        ("MessageAttributes", '{"kind": "book"}', 'FilterPolicy: "kind" must be an object or an array'),
    ],
    ids=["nested-attributes", "wildcard", "anything-but-wildcard-in-or", "empty-range", "bare-value"],
)
def test_a_filter_policy_sns_refuses_stops_the_stack_naming_it(scope, policy, reason):
    """SNS refuses these when the subscription is made; offline they must not deploy either (an
    invalid one would otherwise fail the first publish)."""
    subscription = {
        "Protocol": "sqs",
        "Endpoint": "arn:aws:sqs:us-east-1:123456789012:q",
        "TopicArn": {"Ref": "Topic"},
        "FilterPolicyScope": scope,
        "FilterPolicy": policy,
    }
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Sub": {"Type": "AWS::SNS::Subscription", "Properties": subscription},
        }
    }
    cloud = LocalCloud(StackArtifact("Policies", template, Path(".")))
    try:
        with pytest.raises(LocalCloudError) as refused:
            cloud.start()
    finally:
        cloud.stop()
    assert str(refused.value) == f"Sub.FilterPolicy: Invalid parameter: {reason}"


def test_a_nested_filter_policy_on_the_message_body_is_taken():
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "Protocol": "sqs",
                    "Endpoint": "arn:aws:sqs:us-east-1:123456789012:q",
                    "TopicArn": {"Ref": "Topic"},
                    "FilterPolicyScope": "MessageBody",
                    "FilterPolicy": {"order": {"kind": ["book"]}, "wildcard": ["a key named so"]},
                },
            },
        }
    }
    with LocalCloud(StackArtifact("Policies", template, Path("."))) as cloud:
        assert cloud.resources["Sub"].physical_id.startswith("arn:aws:sns:")


# ------------------------------------------------------------------------------ server-side errors


def test_the_managed_delivery_policy_retries_100015_times_over_about_23_days():
    delays = list(observe.managed_delays())
    assert len(delays) == 100_015
    assert delays[:5] == [0, 0, 0, 1, 1], "3 immediate retries, then 2 one second apart"
    backoff = delays[5:15]
    assert backoff[0] == 1 and backoff[-1] == 20 and backoff == sorted(backoff)
    assert set(delays[15:]) == {20}
    assert 23 <= sum(delays) / 86_400 < 23.2


def failing(monkeypatch, cloud: LocalCloud, queues: dict[str, int]) -> None:
    """Make SQS answer SNS's sends to each queue with a server-side error, that many times (-1: always)."""
    left = {
        cloud.client("sqs").get_queue_attributes(QueueUrl=cloud.physical_id(q), AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]: n
        for q, n in queues.items()
    }
    send = targets.send

    def flaky(cloud_, sender, arn, body, **kwargs):
        if left.get(arn, 0):
            left[arn] -= 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "SendMessage")
        return send(cloud_, sender, arn, body, **kwargs)

    monkeypatch.setattr(targets, "send", flaky)


def attempts(cloud: LocalCloud, queue: str) -> list[tuple[float, str]]:
    return [(s.at, s.outcome) for s in cloud.trace.find("deliver", target=queue_label(cloud, queue))]


def test_a_server_side_error_is_retried_on_the_delivery_policy_until_delivered(redrive, monkeypatch):
    failing(monkeypatch, redrive, {"Encrypted": 4})
    publish(redrive, "disk full")
    redrive.drain()

    assert attempts(redrive, "Encrypted") == [(0, "refused")] * 4 + [(1, "ok")]
    assert [n["Message"] for n in bodies(redrive, "Encrypted")] == ["disk full"], "delivered once"


def test_after_the_policy_s_retries_the_message_goes_to_the_dead_letter_queue_or_is_lost(
    redrive, monkeypatch
):
    monkeypatch.setattr(observe, "managed_delays", lambda: iter([0, 1, 2]))
    failing(monkeypatch, redrive, {"Closed": -1, "Encrypted": -1})
    message_id = publish(redrive, "disk full", MessageAttributes=RED)
    redrive.drain()

    assert attempts(redrive, "Closed") == [(0, "refused"), (0, "refused"), (1, "refused"), (3, "refused")]
    dead = [n for n in bodies(redrive, "DeadLetters") if n["MessageId"] == message_id]
    assert len(dead) == 3, "Closed after its retries; ManagedKey and Unpermitted at once (client-side)"
    (late,) = [s for s in redrive.trace.find("dead-letter") if s.at == 3]
    assert late.outcome == "ok"
    assert len(attempts(redrive, "Encrypted")) == 4
    (lost,) = [s for s in redrive.trace.find("discard") if "retries spent" in s.detail]
    assert lost.outcome == "lost" and lost.at == 3
