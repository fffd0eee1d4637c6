"""Publisher-subscriber fan-out: one upload, published once, processed by three independent subscribers.

An object created under ``input_prefix`` in the upload bucket is published by S3 to an encrypted SNS
topic (a rotating key of its own, which S3 is granted). The topic delivers the event, raw, to three
SQS queues, each read by its own function: a thumbnail, a resized copy and the image's metadata
(JSON), written to the output bucket under ``thumbnails/``, ``resized/`` and ``metadata/``. Each
subscriber fails, retries and scales alone: a queue keeps its subscriber's work while it is slow or
failing, and a message its function fails ``max_receive_count`` times moves to that queue's
dead-letter queue, which also keeps what SNS could not deliver (the subscription's redrive policy).
A bad object (not an image, empty, over ``max_image_pixels``, over ``max_object_size``) so ends in
the three dead-letter queues with its key, never retried forever.

The functions decode images with Pillow, from a layer built for their architecture
(:class:`ImagingLayer`, from the folder ``make imaging-layer`` fills; pass ``imaging_layer`` to use
your own). Outputs never trigger the pipeline again: they go to a separate bucket by default, and
given one bucket for both, the construct refuses output prefixes the upload filter could match.

Example::

    images = PubSub(self, "Images", resize_max_edge=2048)
    images.output_bucket.grant_read(gallery_fn)
    images.dead_letter_queues["Thumbnail"].metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aws_cdk import AssetHashType, Duration, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    ARCHITECTURE,
    PROJECT_ROOT,
    RUNTIME,
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    event_source_queue_props,
    merge_props,
    pattern_function_props,
    powertools_layer,
    secure_topic,
    shared_layer,
)
from .event_driven import (
    NOTIFICATIONS_HANDLER_ID,  # noqa: F401  (public name kept)
    acknowledge_notifications_handler,
    acknowledge_prefix_wildcards,
    same_bucket,
    upload_and_output_buckets,
)

#: The folder ``make imaging-layer`` builds for an architecture (``IMAGING_ARCH``); git-ignored.
LAYER_BUILD_DIR = PROJECT_ROOT / ".build" / "layers"
#: The distribution the layer must ship; its version is read from the built layer, pinned once in requirements.lock.
IMAGING_DISTRIBUTION = "pillow"
#: Pillow's decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``): 25 megapixels, about 100 MB decoded as RGBA.
DEFAULT_MAX_IMAGE_PIXELS = 25_000_000
DEFAULT_MAX_OBJECT_SIZE = Size.mebibytes(20)
DEFAULT_THUMBNAIL_EDGE = 128
DEFAULT_RESIZE_MAX_EDGE = 1024
#: The subscribers: construct id, handler module, output prefix, memory (MB), what it does.
SUBSCRIBERS = (
    ("Thumbnail", "thumbnail", "thumbnails/", 512, "Writes a thumbnail of each uploaded image"),
    ("Resize", "resize", "resized/", 1024, "Writes a resized, EXIF-stripped copy of each uploaded image"),
    ("Metadata", "metadata", "metadata/", 256, "Writes each uploaded image's metadata as JSON"),
)
TIMEOUT = Duration.seconds(30)


def built_layer_dir(architecture: lambda_.Architecture) -> Path:
    return LAYER_BUILD_DIR / f"imaging-{architecture.name}"


def layer_version(python_dir: Path) -> tuple[str, str] | None:
    """The Pillow version a built layer ships and a digest of its files, from its ``*.dist-info``
    (``RECORD`` holds each file's hash); None when there is none."""
    for info in sorted(python_dir.glob(f"{IMAGING_DISTRIBUTION}-*.dist-info")):
        for line in (info / "METADATA").read_text().splitlines():
            if line.startswith("Version: "):
                record = (info / "RECORD").read_bytes() if (info / "RECORD").is_file() else b""
                return line.removeprefix("Version: ").strip(), hashlib.sha256(record).hexdigest()
    return None


class ImagingLayer(lambda_.LayerVersion):
    """Pillow as a layer for one Python runtime and architecture, from a folder holding ``python/``.

    ``layer_dir`` defaults to what ``make imaging-layer`` builds for ``architecture``; a missing
    build is refused, saying which make target to run, so no stack ships functions that cannot
    import their imaging library.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: lambda_.Runtime = RUNTIME,
        architecture: lambda_.Architecture = ARCHITECTURE,
        layer_dir: str | Path | None = None,
    ) -> None:
        folder = Path(layer_dir) if layer_dir is not None else built_layer_dir(architecture)
        found = layer_version(folder / "python")
        if found is None:
            raise ValueError(
                f"{scope.node.path}/{construct_id}: no Pillow layer built in {folder}: run `make imaging-layer"
                f"{'' if architecture.name == 'arm64' else ' IMAGING_ARCH=' + architecture.name}` "
                "first (pip fetches Pillow's wheels for the Lambda platform), or pass imaging_layer="
            )
        super().__init__(
            scope,
            construct_id,
            # Hashed by the files' own hashes (RECORD), not by reading the ~23 MB at every synth.
            code=lambda_.Code.from_asset(
                str(folder),
                exclude=["**/__pycache__"],
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=f"{found[1]}|{runtime.name}|{architecture.name}",
            ),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"Pillow {found[0]} for {runtime.name} on {architecture.name}",
        )
        self.version = found[0]


class PubSub(Construct):
    """Upload bucket -> SNS topic -> three SQS queues (each with its DLQ) -> thumbnail, resize and
    metadata functions -> output bucket.

    :param upload_bucket: an existing bucket to watch; a private, TLS-only, encrypted, versioned one
        with access logs is made if omitted (``upload_bucket_props``).
    :param output_bucket: an existing bucket for the derived objects; one is made if omitted
        (``output_bucket_props``). It may be ``upload_bucket`` itself when no output prefix starts
        with ``input_prefix`` (nor it with one); a configuration that would loop is refused.
    :param input_prefix: the key prefix whose new objects are published (the notification filter).
    :param topic: an existing topic to publish to (S3 needs its key, if any: grant it);
        one with its own rotating key is made if omitted (``topic_props``).
    :param max_receive_count: how often a subscriber tries a message before its dead-letter queue.
    :param max_image_pixels: larger images are refused unread (Pillow's ``MAX_IMAGE_PIXELS``).
    :param max_object_size: larger objects are refused without being downloaded.
    :param thumbnail_edge: the thumbnail's longest edge, in pixels.
    :param resize_max_edge: the resized copy's longest edge; smaller images are not enlarged.
    :param imaging_layer: the layer giving the functions Pillow; an :class:`ImagingLayer` from the
        ``make imaging-layer`` build for the functions' architecture if omitted.
    :param functions_props: ``PatternFunction`` props of the three functions (``architecture``,
        ``runtime``...); ``thumbnail_props``, ``resize_props``, ``metadata_props`` of each.
    :param queue_props: ``sqs.Queue`` props of the three queues.
    :param code_dir: the folder of the handlers; ``functions/pub_sub`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        upload_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        input_prefix: str = "uploads/",
        topic: sns.ITopic | None = None,
        max_receive_count: int = 3,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        max_object_size: Size = DEFAULT_MAX_OBJECT_SIZE,
        thumbnail_edge: int = DEFAULT_THUMBNAIL_EDGE,
        resize_max_edge: int = DEFAULT_RESIZE_MAX_EDGE,
        imaging_layer: lambda_.ILayerVersion | None = None,
        upload_bucket_props: Props | None = None,
        output_bucket_props: Props | None = None,
        topic_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        thumbnail_props: Props | None = None,
        resize_props: Props | None = None,
        metadata_props: Props | None = None,
        code_dir: CodeLocation = "pub_sub",
    ) -> None:
        super().__init__(scope, construct_id)
        path = self.node.path
        if input_prefix and not input_prefix.endswith("/"):
            raise ValueError(f"{path}: input_prefix must be empty or end in '/', got {input_prefix!r}")
        if same_bucket(upload_bucket, output_bucket):
            for _, _, prefix, _, _ in SUBSCRIBERS:
                if prefix.startswith(input_prefix) or input_prefix.startswith(prefix):
                    raise ValueError(
                        f"{path}: output_bucket is the upload bucket and the outputs under {prefix!r} match "
                        f"the upload filter (prefix {input_prefix!r}): each output would be published and "
                        "processed again, in a loop. Give an input_prefix no output prefix overlaps, or a "
                        "separate output_bucket"
                    )
        if not 1 <= thumbnail_edge <= resize_max_edge <= 10_000:
            raise ValueError(f"{path}: need 1 <= thumbnail_edge <= resize_max_edge <= 10000 pixels")
        if not resize_max_edge**2 <= max_image_pixels <= 178_956_970:
            raise ValueError(
                f"{path}: max_image_pixels must be from resize_max_edge squared to 178956970 "
                "(Pillow's default limit)"
            )
        if not 1 <= max_object_size.to_bytes() <= Size.mebibytes(200).to_bytes():
            raise ValueError(f"{path}: max_object_size must be from 1 byte to 200 MiB")

        self.upload_bucket, self.output_bucket, self.access_logs_bucket = upload_and_output_buckets(
            self, upload_bucket, upload_bucket_props, output_bucket, output_bucket_props
        )

        if topic is None:
            made = secure_topic(
                self,
                "Topic",
                key_description=f"Encrypts the {construct_id} upload topic's messages at rest",
                **merge_props(self, "topic_props", {}, topic_props),
            )
            # S3 publishes to the topic, so S3 encrypts with its key (only for this bucket's events).
            made.master_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"ArnLike": {"aws:SourceArn": self.upload_bucket.bucket_arn}},
                )
            )
            topic = made
        else:
            merge_props(self, "topic_props", {}, topic_props, existing=("topic", topic))
        self.topic = topic
        self.key: kms.IKey | None = topic.master_key

        common = merge_props(self, "functions_props", {}, functions_props, fixed=("handler", "layers"))
        platform = {
            "runtime": common.get("runtime", RUNTIME),
            "architecture": common.get("architecture", ARCHITECTURE),
        }
        self.imaging_layer = imaging_layer or ImagingLayer(self, "ImagingLayer", **platform)
        layers = [
            powertools_layer(self, **platform),
            shared_layer(self, shared_dir=common.get("shared_dir"), **platform),
            self.imaging_layer,
        ]
        environment = {
            "UPLOAD_BUCKET_NAME": self.upload_bucket.bucket_name,
            "OUTPUT_BUCKET_NAME": self.output_bucket.bucket_name,
            "INPUT_PREFIX": input_prefix,
            "MAX_IMAGE_PIXELS": str(max_image_pixels),
            "MAX_OBJECT_BYTES": str(int(max_object_size.to_bytes())),
            "THUMBNAIL_EDGE": str(thumbnail_edge),
            "RESIZE_MAX_EDGE": str(resize_max_edge),
        }
        given = {"Thumbnail": thumbnail_props, "Resize": resize_props, "Metadata": metadata_props}
        self.functions: dict[str, lambda_.Function] = {}
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        self.subscriptions: dict[str, sns.Subscription] = {}
        self.event_source_mappings: dict[str, lambda_.EventSourceMapping] = {}
        for name, module, prefix, memory, description in SUBSCRIBERS:
            props = pattern_function_props(
                self,
                f"{module}_props",
                {
                    "code_dir": code_dir,
                    "service": "pub_sub",
                    "handler": f"{module}.handler",
                    "description": description,
                    "timeout": TIMEOUT,
                    "memory_size": memory,
                    "environment": {**environment, "OUTPUT_PREFIX": prefix},
                },
                given[name],
                functions_props=functions_props,
                fixed=("handler", "layers"),
            )
            props.pop("shared_dir", None)  # shipped in the shared layer above
            function = PatternFunction(self, name, layers=layers, **props)
            queue = SecureQueue(
                self,
                f"{name}Queue",
                **event_source_queue_props(
                    self,
                    name.lower(),
                    function.timeout or TIMEOUT,
                    {"retention_period": Duration.days(4)},
                    queue_props,
                    max_receive_count=max_receive_count,
                ),
            )
            topic.add_subscription(
                subscriptions.SqsSubscription(
                    queue.queue, raw_message_delivery=True, dead_letter_queue=queue.dead_letter_queue
                )
            )
            # Exactly what each function calls: GetObject on uploads, PutObject under its own prefix.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[self.upload_bucket.arn_for_objects(f"{input_prefix}*")],
                )
            )
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject"], resources=[self.output_bucket.arn_for_objects(f"{prefix}*")]
                )
            )
            acknowledge_prefix_wildcards(
                function, "function", ((self.upload_bucket, input_prefix), (self.output_bucket, prefix))
            )
            self.functions[name] = function
            self.queues[name] = queue.queue
            self.dead_letter_queues[name] = queue.dead_letter_queue
            self.subscriptions[name] = next(
                c for c in queue.queue.node.children if isinstance(c, sns.Subscription)
            )
            self.event_source_mappings[name] = add_sqs_event_source(function, queue.queue, batch_size=4)
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Fed by an SQS event source: a message failed max_receive_count times reaches its queue's "
                "dead-letter queue through the redrive policy.",
            )
        self.upload_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SnsDestination(topic),
            s3.NotificationKeyFilter(prefix=input_prefix or None),
        )
        acknowledge_notifications_handler(self)

    def outputs(self) -> dict[str, Any]:
        found = {
            "UploadBucketName": self.upload_bucket.bucket_name,
            "OutputBucketName": self.output_bucket.bucket_name,
            "TopicArn": self.topic.topic_arn,
        }
        for name in self.functions:
            found[f"{name}QueueUrl"] = self.queues[name].queue_url
            found[f"{name}DlqUrl"] = self.dead_letter_queues[name].queue_url
        return found
