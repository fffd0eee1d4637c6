"""Small real images for the pub_sub tests, made with Pillow in memory: nothing binary is committed."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

#: EXIF tags: Make, Model, Orientation (6: rotate 90 degrees clockwise to show), the GPS IFD.
MAKE, MODEL, ORIENTATION, GPS_IFD = 0x010F, 0x0110, 0x0112, 0x8825


def jpeg(size=(600, 400), *, orientation=None, camera=None, gps=False) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((30, 60, 200), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    if camera:
        exif[MAKE], exif[MODEL] = camera
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def png(size=(1500, 300), mode="RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 10, 128) if mode == "RGBA" else 90).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels over a few bytes of data: what a
    decompression bomb looks like to a reader that trusts the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def corrupt_jpeg() -> bytes:
    """A real JPEG cut in half: its header reads, its pixels do not decode."""
    whole = jpeg((640, 480))
    return whole[: len(whole) // 2]


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
