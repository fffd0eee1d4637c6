"""The pub_sub subscribers against moto: a real image in, a thumbnail, a resized copy and its
metadata out; every kind of bad object rejected by name, alone in its batch, nothing written."""

from __future__ import annotations

import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from tests import pictures
from tests.unit.conftest import FUNCTIONS, LambdaContext

pytestmark = pytest.mark.unit

UPLOAD, OUTPUT = "uploads", "outputs"
#: A limit low enough for small test images to cross it.
MAX_PIXELS = 1_000_000
ENVIRONMENT = {
    "UPLOAD_BUCKET_NAME": UPLOAD,
    "OUTPUT_BUCKET_NAME": OUTPUT,
    "INPUT_PREFIX": "uploads/",
    "MAX_IMAGE_PIXELS": str(MAX_PIXELS),
    "MAX_OBJECT_BYTES": "200000",
    "THUMBNAIL_EDGE": "128",
    "RESIZE_MAX_EDGE": "1024",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PREFIXES = {"thumbnail": "thumbnails/", "resize": "resized/", "metadata": "metadata/"}


@pytest.fixture(scope="module")
def handlers():
    """The three handler modules, each with its own ``images`` (its own OUTPUT_PREFIX), on one moto."""
    folder = str(FUNCTIONS / "pub_sub")
    with pytest.MonkeyPatch.context() as patch, mock_aws(config={"core": {"reset_boto3_session": False}}):
        for key, value in ENVIRONMENT.items():
            patch.setenv(key, value)
        patch.syspath_prepend(folder)
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (UPLOAD, OUTPUT):
            s3.create_bucket(Bucket=bucket)
        loaded = {}
        for module, prefix in PREFIXES.items():
            patch.setenv("OUTPUT_PREFIX", prefix)
            for name in ("images", module):
                sys.modules.pop(name, None)
            loaded[module] = importlib.import_module(module)
        for name in ("images", *PREFIXES):
            sys.modules.pop(name, None)
        limit = Image.MAX_IMAGE_PIXELS
        yield loaded
        Image.MAX_IMAGE_PIXELS = limit  # the handlers set the process-wide limit, as on Lambda


def message(key: str, body: bytes, *, bucket: str = UPLOAD, etag: str | None = None, size=None) -> dict:
    """Put the object, and the SQS record carrying the S3 event SNS delivered raw."""
    put = boto3.client("s3", region_name="us-east-1").put_object(Bucket=bucket, Key=key, Body=body)
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {
                        "key": key.replace(" ", "+"),
                        "size": len(body) if size is None else size,
                        "eTag": etag or put["ETag"].strip('"'),
                    },
                },
            }
        ]
    }
    return {"messageId": f"m-{key}", "body": json.dumps(event)}


def run(handlers, *records) -> dict[str, list[str]]:
    """Each handler on the batch; the message ids each one returned as failed."""
    return {
        name: [
            f["itemIdentifier"]
            for f in module.handler({"Records": list(records)}, LambdaContext())["batchItemFailures"]
        ]
        for name, module in handlers.items()
    }


def output(key: str) -> bytes:
    return boto3.client("s3", region_name="us-east-1").get_object(Bucket=OUTPUT, Key=key)["Body"].read()


def outputs(name: str) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=OUTPUT).get("Contents", [])
    return sorted(o["Key"] for o in listed if name in o["Key"])


def test_a_photo_gives_an_upright_thumbnail_a_stripped_copy_and_its_metadata(handlers):
    photo = pictures.jpeg((600, 400), orientation=6, camera=("Acme", "Shot 1"), gps=True)
    assert run(handlers, message("uploads/trip/cat 1.jpg", photo)) == {n: [] for n in PREFIXES}

    thumbnail = pictures.opened(output("thumbnails/trip/cat 1.jpg"))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (85, 128)), "turned upright, then fitted"
    resized = pictures.opened(output("resized/trip/cat 1.jpg"))
    assert resized.size == (400, 600), "upright, never enlarged"
    assert dict(resized.getexif()) == {}, "no EXIF (nor GPS) carried over"
    described = json.loads(output("metadata/trip/cat 1.jpg.json"))
    assert described["source"]["key"] == "uploads/trip/cat 1.jpg"
    assert {
        k: described[k] for k in ("format", "mime_type", "width", "height", "mode", "frames", "has_alpha")
    } == {
        "format": "JPEG",
        "mime_type": "image/jpeg",
        "width": 600,
        "height": 400,
        "mode": "RGB",
        "frames": 1,
        "has_alpha": False,
    }
    assert described["exif"] == {"make": "Acme", "model": "Shot 1", "orientation": 6}
    head = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=OUTPUT, Key="metadata/trip/cat 1.jpg.json"
    )
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["source-key"] == "uploads/trip/cat%201.jpg"


def test_a_large_png_keeps_its_format_and_alpha_and_is_fitted_within_the_edge(handlers):
    assert run(handlers, message("uploads/banner.png", pictures.png((1500, 300)))) == {
        n: [] for n in PREFIXES
    }
    resized = pictures.opened(output("resized/banner.png"))
    assert (resized.format, resized.mode, resized.size) == ("PNG", "RGBA", (1024, 205))
    assert pictures.opened(output("thumbnails/banner.png")).size == (128, 26)
    assert json.loads(output("metadata/banner.png.json"))["has_alpha"] is True


BAD = {
    "empty": b"",
    "not-an-image": b"%PDF-1.7 pretending to be a picture",
    "bomb-warned": pictures.png_claiming(1500, 1000),  # over the limit: Pillow's warning, made an error
    "bomb-refused": pictures.png_claiming(5000, 5000),  # over twice the limit: Pillow's own error
    "corrupt": pictures.corrupt_jpeg(),
}


def test_every_bad_object_fails_alone_in_its_batch_and_leaves_nothing(handlers, caplog):
    good = message("uploads/good.png", pictures.png((64, 64), "L"))
    bad = [message(f"uploads/{name}.png", body) for name, body in BAD.items()]
    failed = run(handlers, good, *bad)
    assert failed == {n: [m["messageId"] for m in bad] for n in PREFIXES}
    for name in BAD:
        assert outputs(f"/{name}.png") == []
    assert outputs("/good.png") == ["metadata/good.png.json", "resized/good.png", "thumbnails/good.png"]
    reasons = [r.reason for r in caplog.records if r.getMessage() == "upload rejected"]
    where = f"s3://{UPLOAD}/uploads"
    expected = [
        f"{where}/empty.png: empty (0 bytes), not an image",
        f"{where}/not-an-image.png: not an image (JPEG, PNG, GIF, WEBP)",
        f"{where}/bomb-warned.png: more pixels than the limit of {MAX_PIXELS}",
        f"{where}/bomb-refused.png: more pixels than the limit of {MAX_PIXELS}",
        f"{where}/corrupt.png: corrupt image: image file is truncated",
    ]
    assert len(reasons) == 3 * len(expected)
    for reason, want in zip(reasons, expected * 3, strict=True):
        assert reason.startswith(want)


def test_an_object_too_large_is_refused_unread_and_foreign_keys_are_refused(handlers):
    big = message("uploads/big.png", b"x", size=200_001)
    foreign = message("elsewhere/a.png", pictures.png((8, 8), "L"))
    failed = run(handlers, big, foreign)
    assert failed == {n: ["m-uploads/big.png", "m-elsewhere/a.png"] for n in PREFIXES}


def test_an_object_replaced_since_its_event_and_s3_s_test_event_are_skipped(handlers):
    stale = message("uploads/stale.png", pictures.png((8, 8), "L"), etag="0" * 32)
    test_event = {"messageId": "test", "body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})}
    assert run(handlers, stale, test_event) == {n: [] for n in PREFIXES}
    assert outputs("stale.png") == []


def test_a_message_that_is_no_s3_event_is_rejected(handlers):
    records = [
        {"messageId": "x", "body": "not json"},
        {"messageId": "y", "body": json.dumps({"Records": [{}]})},
    ]
    assert run(handlers, *records) == {n: ["x", "y"] for n in PREFIXES}


# Limits at the edge and one past, what each subscriber counts, and the metadata it keeps (issue 17).


def padded(size: int) -> bytes:
    """A real PNG of exactly ``size`` bytes: trailing bytes after IEND, which decoders ignore."""
    image = pictures.png((8, 8), "L")
    return image + b"\0" * (size - len(image))


def test_objects_up_to_the_size_limit_are_processed_and_each_refusal_is_counted_and_named(
    handlers, caplog, emitted_metrics
):
    emitted_metrics()
    at_limit = message("uploads/at-limit.png", padded(200_000))
    claimed_at_limit = message("uploads/claims-limit.png", pictures.png((8, 8), "L"), size=200_000)
    larger_than_its_event = message("uploads/grew.png", padded(200_001), size=100)
    claimed_over = message("uploads/claims-over.png", b"x", size=200_001)
    no_size = message("uploads/no-size.png", pictures.png((8, 8), "L"))
    event = json.loads(no_size["body"])
    del event["Records"][0]["s3"]["object"]["size"]
    no_size["body"] = json.dumps(event)
    not_events = [
        {"messageId": "empty-records", "body": json.dumps({"Records": []})},
        {"messageId": "no-records", "body": json.dumps({"Service": "Amazon S3"})},
        {"messageId": "not-json", "body": "{"},
        {"messageId": "no-key", "body": json.dumps({"Records": [{"s3": {"bucket": {"name": UPLOAD}}}]})},
    ]
    refused = [larger_than_its_event, claimed_over, no_size, *not_events]
    failed = run(handlers, at_limit, claimed_at_limit, *refused)

    assert failed == {n: [m["messageId"] for m in refused] for n in PREFIXES}
    assert emitted_metrics() == {
        "ThumbnailsWritten": 2,
        "ImagesResized": 2,
        "MetadataWritten": 2,
        "UploadsRejected": 3 * len(refused),
    }
    reasons = [r.reason for r in caplog.records if r.getMessage() == "upload rejected"][: len(refused)]
    where = f"s3://{UPLOAD}/uploads"
    assert reasons == [
        f"{where}/grew.png: over the limit of 200000 bytes",
        f"{where}/claims-over.png: 200001 bytes, over the limit of 200000 bytes",
        f"{where}/no-size.png: empty (0 bytes), not an image",
        "not an S3 event notification: no Records",
        "not an S3 event notification: no Records",
        "not an S3 event notification: not JSON",
        "not an S3 event notification: a record without s3.bucket.name or s3.object.key",
    ]


def test_an_object_s3_cannot_serve_now_fails_its_message_for_a_retry(handlers, emitted_metrics):
    emitted_metrics()
    s3 = boto3.client("s3", region_name="us-east-1")
    body = pictures.png((8, 8), "L")
    put = s3.put_object(Bucket=UPLOAD, Key="uploads/archived.png", Body=body, StorageClass="GLACIER")
    record = message("uploads/unused.png", body, etag=put["ETag"].strip('"'))
    record["body"] = record["body"].replace("uploads/unused.png", "uploads/archived.png")
    assert run(handlers, record) == {n: [record["messageId"]] for n in PREFIXES}
    assert emitted_metrics() == {"UploadsFailed": 3}


def test_metadata_keeps_the_exif_fields_it_names_within_200_characters_as_sorted_utf8_json(handlers):
    import io

    exif = Image.Exif()
    exif[0x010F] = "m" * 250
    exif[0x0132] = "2026:01:01 10:00:00"
    exif.get_ifd(0x8769).update({0x9003: "2025:12:24 18:30:00", 0xA434: "Lens 50mm"})
    buffer = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 80, 80, 0)).save(buffer, "JPEG", exif=exif)
    assert run(handlers, message("uploads/carte-ñ.jpg", buffer.getvalue())) == {n: [] for n in PREFIXES}

    raw = output("metadata/carte-ñ.jpg.json")
    described = json.loads(raw)
    assert described["exif"] == {
        "make": "m" * 200,
        "modified": "2026:01:01 10:00:00",
        "taken": "2025:12:24 18:30:00",
        "lens_model": "Lens 50mm",
    }
    assert "carte-ñ".encode() in raw, "UTF-8, not \\u escapes"
    assert list(described) == sorted(described) and list(described["exif"]) == sorted(described["exif"])
    for prefix in ("thumbnails/", "resized/"):
        assert pictures.opened(output(f"{prefix}carte-ñ.jpg")).mode == "RGB", "a CMYK JPEG is written as RGB"
