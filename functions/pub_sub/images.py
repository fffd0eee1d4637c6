"""What the three subscribers share: the uploads a queue message names, each read once and guarded
before Pillow decodes it, and the derived object written under the subscriber's prefix.

A message is the S3 event as SNS delivered it, raw. An object that can never be processed (empty,
too large, not an image, over the pixel limit, corrupt) raises :class:`Rejected` naming it and why:
its message returns to the queue and, after the queue's maxReceiveCount, rests in the dead-letter
queue. An object replaced or deleted since its event is skipped: its own event, if any, processes it.

Pillow is imported where an image is opened, not at module import: the layer's native code costs
cold start only to the invocations that decode.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from shared.observability import logger, metrics

if TYPE_CHECKING:
    from PIL.Image import Image

UPLOAD_BUCKET = os.environ["UPLOAD_BUCKET_NAME"]
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET_NAME"]
INPUT_PREFIX = os.environ.get("INPUT_PREFIX", "")
OUTPUT_PREFIX = os.environ["OUTPUT_PREFIX"]
MAX_IMAGE_PIXELS = int(os.environ["MAX_IMAGE_PIXELS"])
MAX_OBJECT_BYTES = int(os.environ["MAX_OBJECT_BYTES"])
#: The formats decoded; Pillow tries no other parser on untrusted bytes.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
#: What S3 says of an object that changed or went away since its event.
GONE = ("PreconditionFailed", "412", "NoSuchKey", "404")

s3 = boto3.client("s3")


class Rejected(ValueError):
    """An uploaded object that no retry can process; the message names it and says why."""


@dataclass(frozen=True)
class Upload:
    """One uploaded object, as its S3 event names it."""

    bucket: str
    key: str
    etag: str
    size: int

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        """The key below the upload prefix, which every derived object keeps."""
        return self.key[len(INPUT_PREFIX) :]


def uploads(body: str) -> list[Upload]:
    """The uploads one queue message names; none for S3's ``s3:TestEvent``."""
    try:
        event = json.loads(body)
    except ValueError:
        raise Rejected("not an S3 event notification: not JSON") from None
    if isinstance(event, dict) and event.get("Event") == "s3:TestEvent":
        return []
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise Rejected("not an S3 event notification: no Records")
    found = []
    for record in records:
        try:
            bucket = record["s3"]["bucket"]["name"]
            item = record["s3"]["object"]
            upload = Upload(bucket, unquote_plus(item["key"]), item.get("eTag", ""), int(item.get("size", 0)))
        except (KeyError, TypeError, ValueError):
            raise Rejected(
                "not an S3 event notification: a record without s3.bucket.name or s3.object.key"
            ) from None
        if bucket != UPLOAD_BUCKET or not upload.key.startswith(INPUT_PREFIX):
            raise Rejected(f"{upload.where}: outside this function's upload filter")
        found.append(upload)
    return found


def read(upload: Upload) -> bytes | None:
    """The object's bytes as its event notified them; None when it changed or went away since."""
    if upload.size == 0:
        raise Rejected(f"{upload.where}: empty (0 bytes), not an image")
    if upload.size > MAX_OBJECT_BYTES:
        raise Rejected(f"{upload.where}: {upload.size} bytes, over the limit of {MAX_OBJECT_BYTES} bytes")
    extra = {"IfMatch": upload.etag} if upload.etag else {}
    try:
        body = s3.get_object(Bucket=upload.bucket, Key=upload.key, **extra)["Body"]
    except ClientError as error:
        if error.response["Error"]["Code"] in GONE:
            logger.info("object changed or deleted since its event; skipped", extra={"key": upload.key})
            return None
        raise
    with body:
        data = body.read(MAX_OBJECT_BYTES + 1)
    if len(data) > MAX_OBJECT_BYTES:
        raise Rejected(f"{upload.where}: over the limit of {MAX_OBJECT_BYTES} bytes")
    return data


def open_image(upload: Upload, data: bytes) -> Image:
    """``data`` opened as an image of :data:`FORMATS` within :data:`MAX_IMAGE_PIXELS`; its header
    only is read, so a decompression bomb is refused before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise Rejected(f"{upload.where}: not an image ({', '.join(FORMATS)})") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Rejected(f"{upload.where}: more pixels than the limit of {MAX_IMAGE_PIXELS}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise Rejected(f"{upload.where}: unreadable image: {error}") from None


def decoded(upload: Upload, image: Image) -> Image:
    """Every pixel of ``image`` decoded, upright as its EXIF orientation says; corrupt data is :class:`Rejected`."""
    from PIL import ImageOps

    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise Rejected(f"{upload.where}: corrupt image: {error}") from None


def encoded(image: Image, image_format: str) -> bytes:
    """``image`` in ``image_format`` with no metadata carried over (EXIF, GPS included)."""
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **({"quality": 85} if image_format == "JPEG" else {}))
    return buffer.getvalue()


def write(upload: Upload, key: str, body: bytes, content_type: str) -> str:
    """Put a derived object under :data:`OUTPUT_PREFIX`, naming its source; returns its key."""
    target = f"{OUTPUT_PREFIX}{key}"
    s3.put_object(
        Bucket=OUTPUT_BUCKET,
        Key=target,
        Body=body,
        ContentType=content_type,
        Metadata={"source-key": quote(upload.key), "source-etag": upload.etag},
    )
    return target


def process(event: dict[str, Any], work: Callable[[Upload], str | None]) -> dict[str, Any]:
    """Run ``work`` on each upload of each message of an SQS batch; a message that fails returns
    alone to its queue (a partial batch response), so it is retried and then dead-lettered."""
    failures = []
    for record in event.get("Records", []):
        try:
            for upload in uploads(record["body"]):
                written = work(upload)
                logger.info("upload processed", extra={"key": upload.key, "output_key": written})
        except Rejected as error:
            logger.warning("upload rejected", extra={"message_id": record["messageId"], "reason": str(error)})
            metrics.add_metric(name="UploadsRejected", unit=MetricUnit.Count, value=1)
            failures.append({"itemIdentifier": record["messageId"]})
        except Exception as error:  # a transient failure: the same retry path
            logger.warning(
                "upload failed, to be retried",
                extra={"message_id": record["messageId"], "error": repr(error)},
            )
            metrics.add_metric(name="UploadsFailed", unit=MetricUnit.Count, value=1)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
