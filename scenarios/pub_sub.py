"""Publisher-subscriber fan-out: one upload gives a thumbnail, a resized copy and the metadata; a
corrupt image rests in the three dead-letter queues with its key, tried three times, not forever."""

from __future__ import annotations

import io
import json

from PIL import Image

from scenarios import Show

SUBSCRIBERS = ("Thumbnail", "Resize", "Metadata")


def photo() -> bytes:
    """A real 640x480 JPEG, made here rather than committed."""
    image = Image.new("RGB", (640, 480), (30, 60, 200))
    image.paste((220, 180, 40), (320, 0, 640, 480))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Acme", "Shot 1"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def run(show: Show) -> None:
    cloud = show.cloud
    s3, sqs = cloud.client("s3"), cloud.client("sqs")
    uploads, outputs = cloud.outputs["UploadBucketName"], cloud.outputs["OutputBucketName"]
    names = {n: cloud.function(f"Pattern/{n}").name for n in SUBSCRIBERS}

    def invocations() -> dict[str, int]:
        return {n: len(cloud.trace.find("invoke", target=name)) for n, name in names.items()}

    def waiting(kind: str) -> dict[str, list[str]]:
        found = {}
        for n in SUBSCRIBERS:
            messages = sqs.receive_message(
                QueueUrl=cloud.outputs[f"{n}{kind}Url"], MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            found[n] = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages]
        return found

    image = photo()
    s3.put_object(Bucket=uploads, Key="uploads/holiday/beach.jpg", Body=image)
    cloud.drain()
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=outputs).get("Contents", []))
    derived = ["metadata/holiday/beach.jpg.json", "resized/holiday/beach.jpg", "thumbnails/holiday/beach.jpg"]
    if show.equal("one upload gives every derived object in the output bucket", listed, derived):
        thumbnail = Image.open(io.BytesIO(s3.get_object(Bucket=outputs, Key=derived[2])["Body"].read()))
        described = json.loads(s3.get_object(Bucket=outputs, Key=derived[0])["Body"].read())
        show.equal(
            "the thumbnail fits 128 pixels; the metadata describes the photo",
            (thumbnail.size, described["width"], described["height"], described["exif"]),
            ((128, 96), 640, 480, {"make": "Acme", "model": "Shot 1"}),
        )
    published = [
        s for s in cloud.trace.find("deliver") if s.target.startswith("sns:") and "ObjectCreated" in s.detail
    ]
    show.equal(
        "published once, each subscriber ran once and left its queues empty: nothing written published again",
        (len(published), invocations(), waiting("Queue"), waiting("Dlq")),
        (1, {n: 1 for n in SUBSCRIBERS}, {n: [] for n in SUBSCRIBERS}, {n: [] for n in SUBSCRIBERS}),
    )

    s3.put_object(Bucket=uploads, Key="uploads/broken.jpg", Body=image[: len(image) // 2])
    cloud.drain()
    cloud.advance(600)
    show.equal(
        "a corrupt image rests in all three dead-letter queues with its key",
        waiting("Dlq"),
        {n: ["uploads/broken.jpg"] for n in SUBSCRIBERS},
    )
    show.equal(
        "each subscriber tried it maxReceiveCount (3) times, then never again; nothing was written",
        (invocations(), sorted(o["Key"] for o in s3.list_objects_v2(Bucket=outputs).get("Contents", []))),
        ({n: 4 for n in SUBSCRIBERS}, listed),
    )
