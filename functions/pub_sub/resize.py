"""Subscriber 2: each uploaded image fitted within ``RESIZE_MAX_EDGE`` pixels (never enlarged), upright,
with its metadata stripped (EXIF, GPS), in the image's own format, under ``resized/``."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

import images
from shared.observability import instrument, metrics

MAX_EDGE = int(os.environ["RESIZE_MAX_EDGE"])


def resize(upload: images.Upload) -> str | None:
    from PIL import Image

    data = images.read(upload)
    if data is None:
        return None
    image = images.open_image(upload, data)
    image_format, mime_type = image.format, image.get_format_mimetype()
    image = images.decoded(upload, image)
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    key = images.write(upload, upload.name, images.encoded(image, image_format), mime_type)
    metrics.add_metric(name="ImagesResized", unit=MetricUnit.Count, value=1)
    return key


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return images.process(event, resize)
