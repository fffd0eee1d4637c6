"""What makes the event-driven pattern: a filtered notification, async retries to a failure queue,
two TLS-only encrypted buckets, grants scoped to the prefixes, and no configuration that loops."""

from __future__ import annotations

import pytest
from aws_cdk import App, Size, Stack
from aws_cdk import aws_s3 as s3

from patterns.event_driven import EventDriven, loop_key
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "EventDrivenStack"


def transformer(raw) -> str:
    [found] = [
        k
        for k, v in properties_of(raw, "AWS::Lambda::Function").items()
        if v.get("Handler") == "transform.handler"
    ]
    return found


def buckets(raw) -> dict[str, str]:
    """The upload and output buckets' logical ids, by the transformer's environment."""
    variables = properties_of(raw, "AWS::Lambda::Function")[transformer(raw)]["Environment"]["Variables"]
    return {
        "upload": variables["UPLOAD_BUCKET_NAME"]["Ref"],
        "output": variables["OUTPUT_BUCKET_NAME"]["Ref"],
    }


def test_uploads_under_the_prefix_with_the_suffix_notify_the_transformer_only(templates):
    raw = templates[STACK]
    [notifications] = properties_of(raw, "Custom::S3BucketNotifications").values()
    assert notifications["BucketName"] == {"Ref": buckets(raw)["upload"]}
    [configuration] = notifications["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert configuration["LambdaFunctionArn"] == {"Fn::GetAtt": [transformer(raw), "Arn"]}
    rules = configuration["Filter"]["Key"]["FilterRules"]
    assert sorted((r["Name"], r["Value"]) for r in rules) == [("prefix", "incoming/"), ("suffix", ".csv")]
    [permission] = properties_of(raw, "AWS::Lambda::Permission").values()
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [buckets(raw)["upload"], "Arn"]}


def test_a_failed_object_is_retried_twice_then_its_record_goes_to_the_failure_queue(templates):
    raw = templates[STACK]
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    [config] = properties_of(raw, "AWS::Lambda::EventInvokeConfig").values()
    assert config["FunctionName"] == {"Ref": transformer(raw)}
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    assert raw["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_both_buckets_are_private_encrypted_versioned_and_tls_only(templates):
    raw = templates[STACK]
    props = properties_of(raw, "AWS::S3::Bucket")
    policies = {
        p["Bucket"]["Ref"]: p["PolicyDocument"] for p in properties_of(raw, "AWS::S3::BucketPolicy").values()
    }
    for bucket in buckets(raw).values():
        rule = props[bucket]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert props[bucket]["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props[bucket]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
        assert "BucketName" not in props[bucket]
        [deny] = [s for s in policies[bucket]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_transformer_reads_the_upload_prefix_and_writes_the_output_prefix_only(templates):
    raw = templates[STACK]
    role = properties_of(raw, "AWS::Lambda::Function")[transformer(raw)]["Role"]["Fn::GetAtt"][0]
    s3_statements = {
        action: s["Resource"]
        for s in statements_of(raw, role)
        for action in s["Action"]
        if action.startswith("s3:")
    }
    upload, output = (buckets(raw)[k] for k in ("upload", "output"))
    assert s3_statements == {
        "s3:GetObject": {"Fn::Join": ["", [{"Fn::GetAtt": [upload, "Arn"]}, "/incoming/*"]]},
        "s3:ListBucket": {"Fn::GetAtt": [output, "Arn"]},
        "s3:PutObject": {"Fn::Join": ["", [{"Fn::GetAtt": [output, "Arn"]}, "/validated/*"]]},
    }


@pytest.mark.parametrize(
    ("prefixes", "looping"),
    [
        (("incoming/", ".csv", "validated/"), None),
        (("", ".csv", "out/"), None),
        (("data/", "", "data/out/"), "data/out/name.jsonl"),
        (("", ".jsonl", "out/"), "out/name.jsonl"),
        (("", "l", "out/"), "out/name.jsonl"),
        (("out/in/", "x.jsonl", "out/"), "out/in/namex.jsonl"),
        (("in/", "", "out/"), None),
    ],
)
def test_loop_key_finds_an_output_the_filter_matches(prefixes, looping):
    assert loop_key(*prefixes) == looping


def test_one_bucket_for_both_is_refused_when_outputs_could_trigger_the_function():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Looping")
    bucket = s3.Bucket(stack, "Shared")
    with pytest.raises(
        ValueError, match=r"output key 'incoming/validated/name.jsonl' matches the upload filter"
    ):
        EventDriven(
            stack,
            "Feed",
            upload_bucket=bucket,
            output_bucket=bucket,
            input_suffix="",
            output_prefix="incoming/validated/",
        )


def test_one_bucket_imported_twice_is_one_bucket_too():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Imported")
    upload = s3.Bucket.from_bucket_name(stack, "In", "feeds")
    output = s3.Bucket.from_bucket_name(stack, "Out", "feeds")
    with pytest.raises(ValueError, match="output_bucket is the upload bucket"):
        EventDriven(
            stack, "Feed", upload_bucket=upload, output_bucket=output, input_prefix="", input_suffix=""
        )


def test_one_bucket_for_both_is_taken_when_the_filter_cannot_match_outputs(templates):
    stack = Stack(App(builtin_cloud_formation_validation=False), "OneBucket")
    bucket = s3.Bucket(stack, "Shared", enforce_ssl=True)
    feed = EventDriven(stack, "Feed", upload_bucket=bucket, output_bucket=bucket)
    assert feed.output_bucket is feed.upload_bucket is bucket
    assert feed.access_logs_bucket is None


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"output_prefix": "validated"}, "output_prefix must be a folder"),
        ({"input_prefix": "in"}, "input_prefix must be empty or end in '/'"),
        ({"max_object_size": Size.gibibytes(2)}, "max_object_size must be from 1 byte to 1 GiB"),
        ({"max_field_size": Size.bytes(10)}, "max_field_size must be from 1 KiB"),
        ({"upload_bucket_props": {"encryption": s3.BucketEncryption.UNENCRYPTED}}, "is set by the construct"),
        ({"retry_attempts": 3}, "retry_attempts must be from 0 to 2"),
    ],
)
def test_contradictory_props_are_refused_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        EventDriven(Stack(App(builtin_cloud_formation_validation=False), "Refused"), "Feed", **props)


def test_overrides_reach_the_resources_they_name():
    from aws_cdk import Duration
    from aws_cdk.assertions import Template

    stack = Stack(App(builtin_cloud_formation_validation=False), "Overridden")
    EventDriven(
        stack,
        "Feed",
        transformer_props={"memory_size": 1769, "timeout": Duration.minutes(5)},
        failure_queue_props={
            "retention_period": Duration.days(14),
            "visibility_timeout": Duration.minutes(1),
        },
        output_bucket_props={
            "lifecycle_rules": [s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))]
        },
    )
    raw = Template.from_stack(stack).to_json()
    function = properties_of(raw, "AWS::Lambda::Function")[transformer(raw)]
    assert (function["MemorySize"], function["Timeout"]) == (1769, 300)
    [queue] = properties_of(raw, "AWS::SQS::Queue").values()
    assert queue["VisibilityTimeout"] == 60
    output = properties_of(raw, "AWS::S3::Bucket")[buckets(raw)["output"]]
    assert output["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }


def test_an_existing_resource_and_its_props_together_are_refused():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Both")
    with pytest.raises(ValueError, match="upload_bucket and upload_bucket_props both describe"):
        EventDriven(
            stack, "Feed", upload_bucket=s3.Bucket(stack, "Mine"), upload_bucket_props={"versioned": False}
        )


def test_every_override_is_on_the_page():
    import inspect
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "patterns" / "event_driven.md").read_text()
    names = [
        n
        for n in inspect.signature(EventDriven.__init__).parameters
        if n not in ("self", "scope", "construct_id")
    ]
    assert [name for name in names if f"`{name}`" not in page] == []
