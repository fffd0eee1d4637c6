"""Subscriber 1: a small thumbnail of each uploaded image, in the image's own format, under ``thumbnails/``.

JPEGs decode at a reduced scale (Pillow's draft mode), so a thumbnail costs a fraction of a full decode.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

import images
from shared.observability import instrument, metrics

EDGE = int(os.environ["THUMBNAIL_EDGE"])


def thumbnail(upload: images.Upload) -> str | None:
    data = images.read(upload)
    if data is None:
        return None
    image = images.open_image(upload, data)
    image_format, mime_type = image.format, image.get_format_mimetype()
    image.draft("RGB" if image.mode == "RGB" else None, (EDGE, EDGE))
    image = images.decoded(upload, image)
    image.thumbnail((EDGE, EDGE))
    key = images.write(upload, upload.name, images.encoded(image, image_format), mime_type)
    metrics.add_metric(name="ThumbnailsWritten", unit=MetricUnit.Count, value=1)
    return key


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return images.process(event, thumbnail)
