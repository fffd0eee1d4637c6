"""The pub_sub pattern offline, as deployed: one upload fans out through SNS and three queues to
every derived object; a corrupt, empty, non-image or oversized image rests in the three
dead-letter queues with its key after maxReceiveCount; nothing written to the output bucket (or
outside the upload prefix) publishes anything. The functions import Pillow through their arm64
layer, which the local cloud runs on the installed Pillow of the same version. One cloud for the
module: each test uses keys of its own and counts what it caused."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get
from tests import pictures

pytestmark = pytest.mark.e2e

SUBSCRIBERS = ("Thumbnail", "Resize", "Metadata")


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(load_stack(cloud_assembly.directory, get("pub_sub").stack_name), start=FIXED_START)
    cloud.start()
    yield cloud
    cloud.stop()


def invocations(cloud) -> dict[str, int]:
    return {
        n: len(cloud.trace.find("invoke", target=cloud.function(f"Pattern/{n}").name)) for n in SUBSCRIBERS
    }


def publishes(cloud) -> int:
    """S3's deliveries to the topic."""
    return len([s for s in cloud.trace.find("deliver") if s.target.startswith("sns:")])


def keys_in(cloud, kind: str) -> dict[str, list[str]]:
    """The upload keys each subscriber's queue (``Queue``) or dead-letter queue (``Dlq``) holds."""
    sqs, found = cloud.client("sqs"), {}
    for name in SUBSCRIBERS:
        messages = sqs.receive_message(
            QueueUrl=cloud.outputs[f"{name}{kind}Url"], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        found[name] = sorted(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages)
    return found


def output_keys(cloud, needle: str) -> list[str]:
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs["OutputBucketName"]).get("Contents", [])
    return sorted(o["Key"] for o in listed if needle in o["Key"])


def read(cloud, key: str) -> bytes:
    return cloud.client("s3").get_object(Bucket=cloud.outputs["OutputBucketName"], Key=key)["Body"].read()


def upload(cloud, key: str, body: bytes, bucket: str = "UploadBucketName") -> None:
    cloud.client("s3").put_object(Bucket=cloud.outputs[bucket], Key=key, Body=body)


def test_one_upload_fans_out_to_every_derived_object_once(cloud):
    before, published = invocations(cloud), publishes(cloud)
    upload(cloud, "uploads/shop/banner.png", pictures.png((1500, 300)))
    cloud.drain()

    assert output_keys(cloud, "banner.png") == [
        "metadata/shop/banner.png.json",
        "resized/shop/banner.png",
        "thumbnails/shop/banner.png",
    ]
    resized = Image.open(io.BytesIO(read(cloud, "resized/shop/banner.png")))
    thumbnail = Image.open(io.BytesIO(read(cloud, "thumbnails/shop/banner.png")))
    assert (resized.format, resized.mode, resized.size, thumbnail.size) == (
        "PNG",
        "RGBA",
        (1024, 205),
        (128, 26),
    )
    described = json.loads(read(cloud, "metadata/shop/banner.png.json"))
    assert (described["width"], described["height"], described["has_alpha"]) == (1500, 300, True)
    assert {n: invocations(cloud)[n] - before[n] for n in SUBSCRIBERS} == {n: 1 for n in SUBSCRIBERS}
    assert publishes(cloud) - published == 1, "published once, whatever the three subscribers wrote"
    assert keys_in(cloud, "Queue") == keys_in(cloud, "Dlq") == {n: [] for n in SUBSCRIBERS}


def test_a_corrupt_image_rests_in_the_three_dead_letter_queues_after_three_receives(cloud):
    before = invocations(cloud)
    upload(cloud, "uploads/broken.jpg", pictures.corrupt_jpeg())
    cloud.drain()
    cloud.advance(600)  # over three visibility timeouts more: nothing is tried again

    assert keys_in(cloud, "Dlq") == {n: ["uploads/broken.jpg"] for n in SUBSCRIBERS}
    assert {n: invocations(cloud)[n] - before[n] for n in SUBSCRIBERS} == {n: 3 for n in SUBSCRIBERS}, (
        "maxReceiveCount receives each, then no more"
    )
    assert keys_in(cloud, "Queue") == {n: [] for n in SUBSCRIBERS}
    assert output_keys(cloud, "broken") == []
    drain_dead_letters(cloud)


def drain_dead_letters(cloud) -> None:
    for name in SUBSCRIBERS:
        cloud.client("sqs").purge_queue(QueueUrl=cloud.outputs[f"{name}DlqUrl"])


def test_empty_non_image_and_oversized_uploads_are_dead_lettered_too(cloud):
    bad = {
        "uploads/empty.png": b"",
        "uploads/notes.png": b"just some text",
        "uploads/bomb.png": pictures.png_claiming(6000, 5000),  # 30 MP: over the 25 MP limit
    }
    for key, body in bad.items():
        upload(cloud, key, body)
    cloud.drain()

    assert keys_in(cloud, "Dlq") == {n: sorted(bad) for n in SUBSCRIBERS}
    assert [k for k in output_keys(cloud, "") if any(name in k for name in ("empty", "notes", "bomb"))] == []
    drain_dead_letters(cloud)


def test_nothing_outside_the_upload_prefix_and_nothing_written_publishes(cloud):
    before_invocations, before_publishes = invocations(cloud), publishes(cloud)
    image = pictures.png((32, 32), "L")
    upload(cloud, "uploads/loop.png", image, bucket="OutputBucketName")  # even under the upload prefix
    upload(cloud, "thumbnails/x.png", image, bucket="OutputBucketName")
    upload(cloud, "elsewhere/x.png", image)
    cloud.drain()

    assert publishes(cloud) == before_publishes
    assert invocations(cloud) == before_invocations
