"""What makes the pub_sub pattern: S3 publishes uploads (one prefix) to an encrypted topic, which
fans out raw to three queues, each with its DLQ (also the subscription's), read by three functions
with partial batch responses; Pillow from a layer for their architecture; grants scoped to the
prefixes; and no configuration in which outputs trigger the pipeline again."""

from __future__ import annotations

import pytest
from aws_cdk import App, Size, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from patterns.defaults import SHARED_DIR
from patterns.pub_sub import DEFAULT_MAX_IMAGE_PIXELS, ImagingLayer, PubSub, built_layer_dir
from patterns.stack import UNSTAGED
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "PubSubStack"
HANDLERS = {"thumbnail.handler": "thumbnails/", "resize.handler": "resized/", "metadata.handler": "metadata/"}


def functions(raw) -> dict[str, str]:
    """Logical id of each subscriber function, by handler."""
    return {
        v["Handler"]: k
        for k, v in properties_of(raw, "AWS::Lambda::Function").items()
        if v["Handler"] in HANDLERS
    }


def variables(raw, handler: str) -> dict:
    return properties_of(raw, "AWS::Lambda::Function")[functions(raw)[handler]]["Environment"]["Variables"]


def test_uploads_under_the_prefix_are_published_to_the_topic_and_the_output_bucket_notifies_nothing(
    templates,
):
    raw = templates[STACK]
    [notifications] = properties_of(raw, "Custom::S3BucketNotifications").values()
    upload = variables(raw, "thumbnail.handler")["UPLOAD_BUCKET_NAME"]
    output = variables(raw, "thumbnail.handler")["OUTPUT_BUCKET_NAME"]
    assert notifications["BucketName"] == upload != output, "one notification, on the upload bucket only"
    [topic] = resources_of(raw, "AWS::SNS::Topic")
    assert notifications["NotificationConfiguration"] == {
        "TopicConfigurations": [
            {
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                "TopicArn": {"Ref": topic},
            }
        ]
    }


def test_the_topic_has_a_rotating_key_that_only_s3_for_this_bucket_may_use_to_publish(templates):
    raw = templates[STACK]
    [topic] = properties_of(raw, "AWS::SNS::Topic").values()
    [(key_id, key)] = properties_of(raw, "AWS::KMS::Key").items()
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]} and key["EnableKeyRotation"] is True
    upload_arn = {"Fn::GetAtt": [variables(raw, "thumbnail.handler")["UPLOAD_BUCKET_NAME"]["Ref"], "Arn"]}
    [s3_use] = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert s3_use["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert s3_use["Condition"] == {"ArnLike": {"aws:SourceArn": upload_arn}}


def test_three_raw_subscriptions_each_to_a_queue_whose_dlq_also_keeps_undeliverable_messages(templates):
    raw = templates[STACK]
    queues = properties_of(raw, "AWS::SQS::Queue")
    subscriptions = list(properties_of(raw, "AWS::SNS::Subscription").values())
    assert len(subscriptions) == 3
    for subscription in subscriptions:
        queue = subscription["Endpoint"]["Fn::GetAtt"][0]
        redrive = queues[queue]["RedrivePolicy"]
        assert (subscription["Protocol"], subscription["RawMessageDelivery"]) == ("sqs", True)
        assert redrive["maxReceiveCount"] == 3
        assert subscription["RedrivePolicy"]["deadLetterTargetArn"] == redrive["deadLetterTargetArn"]
        assert queues[queue]["VisibilityTimeout"] == 180, "six times the function's 30 s"


def test_each_function_reads_its_queue_in_batches_with_partial_failures_and_pillow_from_its_layer(templates):
    raw = templates[STACK]
    mappings = {
        m["FunctionName"]["Ref"]: m for m in properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    }
    [(layer_id, layer)] = [
        (k, v)
        for k, v in properties_of(raw, "AWS::Lambda::LayerVersion").items()
        if "Pillow" in v["Description"]
    ]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert raw["Resources"][layer_id]["Metadata"]["aws:asset:path"] == str(
        built_layer_dir(lambda_.Architecture.ARM_64)
    )
    for handler, function_id in functions(raw).items():
        function = properties_of(raw, "AWS::Lambda::Function")[function_id]
        mapping = mappings[function_id]
        assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (4, ["ReportBatchItemFailures"])
        assert function["Architectures"] == ["arm64"] and {"Ref": layer_id} in function["Layers"]
        assert variables(raw, handler)["MAX_IMAGE_PIXELS"] == str(DEFAULT_MAX_IMAGE_PIXELS)
        assert variables(raw, handler)["OUTPUT_PREFIX"] == HANDLERS[handler]


def test_each_function_reads_uploads_and_writes_its_own_prefix_only(templates):
    raw = templates[STACK]
    upload = variables(raw, "thumbnail.handler")["UPLOAD_BUCKET_NAME"]["Ref"]
    output = variables(raw, "thumbnail.handler")["OUTPUT_BUCKET_NAME"]["Ref"]
    roles = {
        k: v["Properties"]["Role"]["Fn::GetAtt"][0]
        for k, v in resources_of(raw, "AWS::Lambda::Function").items()
    }
    for handler, function_id in functions(raw).items():
        s3_statements = {
            (action, str(statement["Resource"]))
            for statement in statements_of(raw, roles[function_id])
            for action in statement["Action"]
            if action.startswith("s3:")
        }
        assert s3_statements == {
            ("s3:GetObject", str({"Fn::Join": ["", [{"Fn::GetAtt": [upload, "Arn"]}, "/uploads/*"]]})),
            (
                "s3:PutObject",
                str({"Fn::Join": ["", [{"Fn::GetAtt": [output, "Arn"]}, f"/{HANDLERS[handler]}*"]]}),
            ),
        }
        sqs_actions = sorted(
            a for s in statements_of(raw, roles[function_id]) for a in s["Action"] if a.startswith("sqs:")
        )
        assert sqs_actions == ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]


def bare_stack(name: str) -> Stack:
    return Stack(App(builtin_cloud_formation_validation=False, context=UNSTAGED), name)


@pytest.mark.parametrize("input_prefix", ["", "thumbnails/", "resized/old/"])
def test_one_bucket_for_both_is_refused_when_outputs_could_be_published_again(input_prefix):
    stack = bare_stack("Looping")
    bucket = s3.Bucket(stack, "Shared")
    with pytest.raises(ValueError, match="output_bucket is the upload bucket and the outputs under"):
        PubSub(stack, "Images", upload_bucket=bucket, output_bucket=bucket, input_prefix=input_prefix)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"input_prefix": "in"}, "input_prefix must be empty or end in '/'"),
        ({"thumbnail_edge": 2000, "resize_max_edge": 1000}, "thumbnail_edge <= resize_max_edge"),
        ({"max_image_pixels": 200_000_000}, "max_image_pixels must be from"),
        ({"max_object_size": Size.gibibytes(1)}, "max_object_size must be from 1 byte to 200 MiB"),
        ({"output_bucket_props": {"versioned": False}}, "is set by the construct"),
        ({"functions_props": {"layers": []}}, "is set by the construct"),
    ],
)
def test_contradictory_props_are_refused_before_synth(props, message):
    with pytest.raises(ValueError, match=message):
        PubSub(bare_stack("Refused"), "Images", **props)


def test_a_layer_not_built_is_refused_naming_the_make_target(tmp_path):
    stack = bare_stack("Unbuilt")
    with pytest.raises(ValueError, match=r"no Pillow layer built in .*: run `make imaging-layer` first"):
        ImagingLayer(stack, "Layer", layer_dir=tmp_path)
    with pytest.raises(ValueError, match=r"run `make imaging-layer IMAGING_ARCH=x86_64` first"):
        ImagingLayer(stack, "Other", layer_dir=tmp_path, architecture=lambda_.Architecture.X86_64)


def test_one_bucket_with_separate_prefixes_x86_64_and_a_layer_of_ones_own_are_taken():
    stack = bare_stack("OneBucket")
    bucket = s3.Bucket(stack, "Shared", enforce_ssl=True)
    mine = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:layer:my-pillow-x86:7"
    )
    images = PubSub(
        stack,
        "Images",
        upload_bucket=bucket,
        output_bucket=bucket,
        input_prefix="incoming/",
        imaging_layer=mine,
        functions_props={"architecture": lambda_.Architecture.X86_64, "shared_dir": SHARED_DIR},
    )
    assert images.output_bucket is images.upload_bucket is bucket and images.imaging_layer is mine
    raw = Template.from_stack(stack).to_json()
    [shared] = properties_of(raw, "AWS::Lambda::LayerVersion").values()
    assert (shared["Description"].split(" (")[0], shared["CompatibleArchitectures"]) == (
        "Runtime code shared by the pattern handlers",
        ["x86_64"],
    )
    for function_id in functions(raw).values():
        function = properties_of(raw, "AWS::Lambda::Function")[function_id]
        assert function["Architectures"] == ["x86_64"] and function["Layers"][-1] == mine.layer_version_arn
    [notifications] = properties_of(raw, "Custom::S3BucketNotifications").values()
    [configuration] = notifications["NotificationConfiguration"]["TopicConfigurations"]
    assert configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]


def test_every_override_is_on_the_page():
    import inspect
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "patterns" / "pub_sub.md").read_text()
    names = [
        n for n in inspect.signature(PubSub.__init__).parameters if n not in ("self", "scope", "construct_id")
    ]
    assert [name for name in names if f"`{name}`" not in page] == []


def test_make_builds_the_layer_for_the_lambda_platform_from_the_one_pillow_pin():
    """``make -n``: what ``make test`` would run, run by nobody; pip fetches only in make, never in a test."""
    import re
    import shutil
    import subprocess

    from patterns.defaults import PROJECT_ROOT

    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    skipped = ("-o", "install", "-o", ".venv/.installed", "-o", "chromium")
    done = subprocess.run(  # noqa: S603 (make, with our own arguments)
        [make, "-n", "-B", *skipped, "test", "IMAGING_ARCH=x86_64"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    command = " ".join(done.stdout.replace("\\\n", " ").split())
    target = built_layer_dir(lambda_.Architecture.X86_64).relative_to(PROJECT_ROOT)
    assert (
        "-m pip install --quiet --disable-pip-version-check --only-binary=:all: --implementation cp "
        f"--python-version 3.13 --platform manylinux_2_28_x86_64 --target {target}.tmp/python "
        "\"$(grep -i '^pillow==' requirements.lock)\""
    ) in command
    assert command.index(f"mv {target}.tmp {target}") < command.index("pytest")
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "IMAGING_PLATFORM_arm64 := manylinux_2_28_aarch64" in makefile
    for goal in ("test", "synth", "serve", "grants", "bench"):
        assert re.search(rf"^{goal}:[^#\n]*\bimaging-layer\b", makefile, flags=re.MULTILINE), goal
    pins = [
        line for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines() if "pillow==" in line
    ]
    assert pins == ["pillow==13.0.0"], "one pin, read by make"
