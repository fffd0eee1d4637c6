"""S3 event notifications on purpose-built stacks: to Lambda, SQS, SNS and EventBridge, by event
type and key filter, once each, and S3's own check of a configuration when it is deployed.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

from localcloud import LocalCloud, LocalCloudError, TemplateError
from patterns.defaults import secure_topic
from tests.localcloud.messaging import bodies, caused_by, forwarded, forwarder, queue_label, received

pytestmark = pytest.mark.localcloud


def build_notifications(stack: Stack) -> None:
    bucket = s3.Bucket(stack, "Uploads", versioned=True, event_bridge_enabled=True)
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)
    CfnOutput(stack, "BucketArn", value=bucket.bucket_arn)
    CfnOutput(stack, "RegionalDomainName", value=bucket.bucket_regional_domain_name)
    seen = sqs.Queue(stack, "Seen")
    bucket.add_event_notification(
        s3.EventType.OBJECT_CREATED,
        destinations.LambdaDestination(forwarder(stack, "Thumbnailer", seen)),
        s3.NotificationKeyFilter(prefix="images/", suffix=".jpg"),
    )
    bucket.add_event_notification(
        s3.EventType.OBJECT_CREATED_PUT,
        destinations.SqsDestination(sqs.Queue(stack, "Documents")),
        s3.NotificationKeyFilter(prefix="docs/"),
    )
    removals = sns.Topic(stack, "Removals")
    removals.add_subscription(subscriptions.SqsSubscription(sqs.Queue(stack, "RemovalsInbox")))
    bucket.add_event_notification(s3.EventType.OBJECT_REMOVED, destinations.SnsDestination(removals))


def build_direct(stack: Stack) -> None:
    """A bucket with its configuration in the template itself, the CloudFormation way."""
    reports = sqs.Queue(stack, "Reports")
    policy = sqs.QueuePolicy(stack, "ReportsPolicy", queues=[reports])
    policy.document.add_statements(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[reports.queue_arn],
        )
    )
    bucket = s3.CfnBucket(
        stack,
        "Direct",
        notification_configuration=s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    queue=reports.queue_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[s3.CfnBucket.FilterRuleProperty(name="suffix", value=".csv")]
                        )
                    ),
                )
            ]
        ),
    )
    bucket.add_dependency(policy.node.default_child)
    CfnOutput(stack, "BucketName", value=bucket.ref)


def build_unvalidated(stack: Stack) -> None:
    """A queue whose policy admits SNS, not S3: S3 cannot validate it as a destination."""
    queue = sqs.Queue(stack, "NotForS3")
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
        )
    )
    bucket = s3.CfnBucket(
        stack,
        "Misconfigured",
        notification_configuration=s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(event="s3:ObjectCreated:*", queue=queue.queue_arn)
            ]
        ),
    )
    bucket.add_dependency(queue.node.find_child("Policy").node.default_child)


def secure_topic_stack(grant_key: bool):
    """S3 notifying the house's encrypted topic: its key must let S3 in, which CDK does not do."""

    def build(stack: Stack) -> None:
        topic = secure_topic(stack, "Alarms")
        if grant_key:
            topic.master_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                )
            )
        topic.add_subscription(subscriptions.SqsSubscription(sqs.Queue(stack, "AlarmsInbox")))
        bucket = s3.Bucket(stack, "Watched")
        bucket.add_event_notification(s3.EventType.OBJECT_CREATED, destinations.SnsDestination(topic))
        CfnOutput(stack, "BucketName", value=bucket.bucket_name)

    return build


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    cloud = run(synth("S3Notifications", build_notifications))
    received(cloud, "Documents")  # S3's test event, sent when the configuration was put
    bodies(cloud, "RemovalsInbox")
    return cloud


@pytest.fixture
def bridge_events(cloud, monkeypatch) -> list[dict]:
    """The events put on EventBridge from now on."""
    put: list[dict] = []
    key = ("events", "PutEvents")
    registry = cloud.kernel.registry.observers
    monkeypatch.setitem(
        registry, key, [*registry.get(key, []), lambda cloud, params, parsed: put.extend(params["Entries"])]
    )
    return put


def upload(cloud: LocalCloud, key: str, body: bytes = b"data") -> dict:
    return cloud.client("s3").put_object(Bucket=cloud.outputs["BucketName"], Key=key, Body=body)


def deliveries(cloud: LocalCloud) -> list[str]:
    """What S3 delivered object events to, in order (its test events aside)."""
    return [s.target for event in cloud.trace.find("event") for s in caused_by(cloud, event)]


def test_the_bucket_is_created_with_its_attributes_and_versioning(cloud):
    name = cloud.outputs["BucketName"]
    assert cloud.outputs["BucketArn"] == f"arn:aws:s3:::{name}"
    assert cloud.outputs["RegionalDomainName"] == f"{name}.s3.us-east-1.amazonaws.com"
    assert cloud.client("s3").get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_an_upload_reaches_the_function_whose_prefix_and_suffix_match(cloud, bridge_events):
    upload(cloud, "images/cat.jpg", b"meow")
    cloud.drain()

    (event,) = forwarded(cloud)["Thumbnailer"]
    record = S3Event(event).record
    assert (record.event_version, record.event_source, record.event_name) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
    )
    assert record.aws_region == "us-east-1" and record.event_time == "2026-01-01T00:00:00.000Z"
    assert record.s3.bucket.name == cloud.outputs["BucketName"]
    assert record.s3.bucket.arn == f"arn:aws:s3:::{cloud.outputs['BucketName']}"
    assert record.s3.bucket.owner_identity.principal_id
    assert (record.s3.get_object.key, record.s3.get_object.size) == ("images/cat.jpg", 4)
    assert record.s3.get_object.etag and record.s3.get_object.sequencer and record.s3.get_object.version_id
    assert record.request_parameters.source_ip_address and record.user_identity.principal_id
    assert set(record.response_elements) == {"x-amz-request-id", "x-amz-id-2"}
    assert received(cloud, "Documents") == [] and bodies(cloud, "RemovalsInbox") == []
    (put,) = bridge_events
    assert (put["Source"], put["DetailType"]) == ("aws.s3", "Object Created")
    assert put["EventBusName"].endswith(":event-bus/default")
    detail = S3EventBridgeNotificationEvent({**put, "detail": json.loads(put["Detail"])}).detail
    assert (detail.bucket.name, detail.object.key, detail.object.size) == (
        cloud.outputs["BucketName"],
        "images/cat.jpg",
        4,
    )
    assert (detail.reason, detail.requester, detail.object.etag) == (
        "PutObject",
        "123456789012",
        record.s3.get_object.etag,
    )


def test_an_upload_outside_every_filter_triggers_nothing_but_eventbridge(cloud, bridge_events):
    for key in ("images/cat.png", "videos/cat.jpg", "cat.jpg", "documents/a.txt"):
        upload(cloud, key)
    cloud.drain()

    assert forwarded(cloud) == {}
    assert received(cloud, "Documents") == [] and bodies(cloud, "RemovalsInbox") == []
    assert set(deliveries(cloud)) == {"events:default"}, "EventBridge gets every event; its rules choose"
    assert len(bridge_events) == 4


def test_a_queue_gets_the_s3_event_with_the_key_url_encoded(cloud):
    upload(cloud, "docs/annual report=2025.pdf")
    cloud.drain()

    (message,) = bodies(cloud, "Documents")
    record = S3Event(message).record
    assert record.s3.get_object.key == "docs/annual+report%3D2025.pdf"
    assert S3Event(message).object_key == "docs/annual report=2025.pdf"
    assert record.s3.configuration_id


def test_only_the_configured_event_types_notify(cloud):
    bucket = cloud.outputs["BucketName"]
    upload(cloud, "images/source.jpg")
    s3_client = cloud.client("s3")
    s3_client.copy_object(
        Bucket=bucket, Key="images/copy.jpg", CopySource={"Bucket": bucket, "Key": "images/source.jpg"}
    )
    s3_client.copy_object(
        Bucket=bucket, Key="docs/copy.pdf", CopySource={"Bucket": bucket, "Key": "images/source.jpg"}
    )
    upload_id = s3_client.create_multipart_upload(Bucket=bucket, Key="images/big.jpg")["UploadId"]
    part = s3_client.upload_part(
        Bucket=bucket, Key="images/big.jpg", UploadId=upload_id, PartNumber=1, Body=b"x"
    )
    s3_client.complete_multipart_upload(
        Bucket=bucket,
        Key="images/big.jpg",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    cloud.drain()

    names = [
        (e["Records"][0]["eventName"], e["Records"][0]["s3"]["object"]["key"])
        for e in forwarded(cloud)["Thumbnailer"]
    ]
    assert names == [
        ("ObjectCreated:Put", "images/source.jpg"),
        ("ObjectCreated:Copy", "images/copy.jpg"),
        ("ObjectCreated:CompleteMultipartUpload", "images/big.jpg"),
    ]
    assert received(cloud, "Documents") == [], "the queue asked for ObjectCreated:Put only"


def test_removals_reach_the_topic_and_its_subscribers(cloud, bridge_events):
    bucket = cloud.outputs["BucketName"]
    version = upload(cloud, "old.txt")["VersionId"]
    s3_client = cloud.client("s3")
    s3_client.delete_object(Bucket=bucket, Key="old.txt")
    s3_client.delete_object(Bucket=bucket, Key="old.txt", VersionId=version)
    upload(cloud, "a.txt")
    upload(cloud, "b.txt")
    s3_client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}, {"Key": "b.txt"}]})
    cloud.drain()

    envelopes = bodies(cloud, "RemovalsInbox")
    assert {e["Subject"] for e in envelopes} == {"Amazon S3 Notification"}
    records = [S3Event(json.loads(e["Message"])).record for e in envelopes]
    assert [(r.event_name, r.s3.get_object.key) for r in records] == [
        ("ObjectRemoved:DeleteMarkerCreated", "old.txt"),
        ("ObjectRemoved:Delete", "old.txt"),
        ("ObjectRemoved:DeleteMarkerCreated", "a.txt"),
        ("ObjectRemoved:DeleteMarkerCreated", "b.txt"),
    ]
    deleted = [
        S3EventBridgeNotificationEvent({**e, "detail": json.loads(e["Detail"])}) for e in bridge_events
    ]
    removals = [e.detail for e in deleted if e["DetailType"] == "Object Deleted"]
    assert [(d.object.key, d.deletion_type, d.reason) for d in removals][:2] == [
        ("old.txt", "Delete Marker Created", "DeleteObject"),
        ("old.txt", "Permanently Deleted", "DeleteObject"),
    ]


def test_each_event_is_delivered_once_and_traced_under_its_cause(cloud):
    upload(cloud, "docs/one.pdf")
    cloud.drain()
    cloud.advance(3600)

    assert len(received(cloud, "Documents")) == 1, "moto notifies nothing itself"
    (event,) = cloud.trace.find("event")
    assert (event.source, event.detail) == ("test", "ObjectCreated:Put docs/one.pdf")
    targets = {s.target for s in caused_by(cloud, event)}
    assert targets == {queue_label(cloud, "Documents"), "events:default"}


def test_a_configuration_put_at_runtime_is_refused_clearly(cloud):
    with pytest.raises(LocalCloudError, match="notifications of the template only"):
        cloud.client("s3").put_bucket_notification_configuration(
            Bucket=cloud.outputs["BucketName"], NotificationConfiguration={}
        )


def test_s3_sends_a_test_event_when_the_configuration_is_deployed(synth, run):
    cloud = run(synth("S3Notifications", build_notifications))

    (test_event,) = bodies(cloud, "Documents")
    assert test_event["Event"] == "s3:TestEvent"
    assert test_event["Bucket"] == cloud.outputs["BucketName"]


def test_a_configuration_in_the_bucket_itself_filters_by_suffix(synth, run):
    cloud = run(synth("S3Direct", build_direct))
    bodies(cloud, "Reports")  # the test event
    upload(cloud, "2025/q1.csv")
    upload(cloud, "2025/q1.xlsx")
    cloud.drain()

    assert [S3Event(b).object_key for b in bodies(cloud, "Reports")] == ["2025/q1.csv"]


def test_a_destination_s3_may_not_send_to_fails_the_deployment(synth):
    artifact = synth("S3Unvalidated", build_unvalidated)
    with pytest.raises(TemplateError, match="Unable to validate the following destination configurations"):
        LocalCloud(artifact).start()


def test_a_secure_topic_needs_its_key_granted_to_s3(synth, run):
    with pytest.raises(TemplateError, match=r"KMS key .* does not let s3.amazonaws.com"):
        LocalCloud(synth("S3SecureTopicUngranted", secure_topic_stack(grant_key=False))).start()

    cloud = run(synth("S3SecureTopic", secure_topic_stack(grant_key=True)))
    bodies(cloud, "AlarmsInbox")
    upload(cloud, "report.txt")
    cloud.drain()
    (envelope,) = bodies(cloud, "AlarmsInbox")
    assert S3Event(json.loads(envelope["Message"])).object_key == "report.txt"


def test_a_tls_only_bucket_takes_calls_as_the_https_calls_they_stand_for(synth, run):
    def build(stack: Stack) -> None:
        bucket = s3.Bucket(stack, "Private", enforce_ssl=True)
        CfnOutput(stack, "BucketName", value=bucket.bucket_name)

    cloud = run(synth("TlsOnlyBucket", build))
    client, bucket = cloud.client("s3"), cloud.outputs["BucketName"]
    client.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    assert client.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b\n"
