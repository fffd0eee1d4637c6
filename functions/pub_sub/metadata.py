"""Subscriber 3: each uploaded image's metadata as JSON under ``metadata/<key>.json``.

Format, size, mode, frames, transparency and a few EXIF fields (camera, time taken, orientation);
never GPS: a location is personal data, and a reader of the bucket need not have it. The image is
decoded in full first, so a corrupt one is rejected here as by the other subscribers, not described.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

import images
from shared.observability import instrument, metrics

#: EXIF tags kept: in the first IFD, and in the Exif sub-IFD (0x8769).
EXIF_TAGS = {0x010F: "make", 0x0110: "model", 0x0112: "orientation", 0x0132: "modified"}
EXIF_IFD_TAGS = {0x9003: "taken", 0xA434: "lens_model"}
EXIF_IFD = 0x8769
MAX_TEXT = 200


def _plain(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.strip("\x00 ")[:MAX_TEXT]
    return None


def describe(upload: images.Upload, data: bytes) -> dict[str, Any]:
    """What the image is; :class:`images.Rejected` if it is not a whole, readable image."""
    image = images.open_image(upload, data)
    exif = image.getexif()
    fields = {name: exif.get(tag) for tag, name in EXIF_TAGS.items()}
    fields |= {name: exif.get_ifd(EXIF_IFD).get(tag) for tag, name in EXIF_IFD_TAGS.items()}
    found = {
        "source": {"bucket": upload.bucket, "key": upload.key, "etag": upload.etag, "size": len(data)},
        "format": image.format,
        "mime_type": image.get_format_mimetype(),
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "frames": getattr(image, "n_frames", 1),
        "has_alpha": "A" in image.getbands() or "transparency" in image.info,
        "exif": {k: v for k, v in ((k, _plain(v)) for k, v in fields.items()) if v not in (None, "")},
    }
    images.decoded(upload, image)
    return found


def metadata(upload: images.Upload) -> str | None:
    data = images.read(upload)
    if data is None:
        return None
    body = json.dumps(describe(upload, data), sort_keys=True, ensure_ascii=False).encode()
    key = images.write(upload, f"{upload.name}.json", body, "application/json")
    metrics.add_metric(name="MetadataWritten", unit=MetricUnit.Count, value=1)
    return key


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return images.process(event, metadata)
