"""An inventory CSV, read as a stream and validated row by row into JSON-ready records.

The reader never holds the object: bytes come from the stream in 8 KiB reads (TextIOWrapper's), are decoded as
strict UTF-8 (a BOM is allowed), and are split into lines of at most ``max_line`` characters before
the CSV parser sees them, so a hostile object (a field of 100 MB, no newline at all, bytes that are
not UTF-8) fails fast with :class:`Rejected` instead of exhausting memory. Counting the bytes read
enforces the size cap even if the object grew after its event was sent.

The file's contract: a header ``sku,name,quantity,price_cents`` and one product per row::

    >>> import io
    >>> list(records(io.BytesIO(b"sku,name,quantity,price_cents\\nA-1,Lamp,3,1299\\n"), max_bytes=1000, max_field=100))
    [{'sku': 'A-1', 'name': 'Lamp', 'quantity': 3, 'price_cents': 1299}]
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, BinaryIO

COLUMNS = ("sku", "name", "quantity", "price_cents")
SKU = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")
MAX_NAME = 200
MAX_QUANTITY = 1_000_000
MAX_PRICE_CENTS = 100_000_000
READ_CHUNK = 64 * 1024
#: How many characters of a bad value an error quotes.
SHOWN = 40


class Rejected(ValueError):
    """The object cannot be converted, whatever the retry: ``str(error)`` says why, and where."""


class _Capped(io.RawIOBase):
    """A read-only stream over ``body`` that refuses to go past ``max_bytes``."""

    def __init__(self, body: BinaryIO, max_bytes: int) -> None:
        self.body, self.max_bytes, self.read_so_far = body, max_bytes, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.body.read(min(len(buffer), READ_CHUNK))
        self.read_so_far += len(chunk)
        if self.read_so_far > self.max_bytes:
            raise Rejected(f"larger than the limit of {self.max_bytes} bytes")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _lines(text: io.TextIOBase, max_line: int) -> Iterator[str]:
    number = 0
    while True:
        try:
            line = text.readline(max_line + 1)
        except UnicodeDecodeError as error:
            raise Rejected(f"not UTF-8: invalid byte 0x{error.object[error.start]:02x}") from None
        if not line:
            return
        number += 1
        if len(line) > max_line:
            raise Rejected(f"line {number}: longer than {max_line} characters")
        yield line


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "...")


def _count(name: str, value: str, maximum: int) -> tuple[int | None, str | None]:
    if not value.isascii() or not value.isdigit():
        return None, f"{name}: expected a whole number, got {_shown(value)}"
    number = int(value)
    if number > maximum:
        return None, f"{name}: greater than {maximum}"
    return number, None


def record(row: list[str]) -> dict[str, Any]:
    """One row as a typed record, or :class:`ValueError` naming every bad field."""
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} fields, got {len(row)}")
    sku, name, quantity, price = row
    problems = []
    if not SKU.fullmatch(sku):
        problems.append(f"sku: expected 1 to 32 of A-Z, 0-9 and '-', got {_shown(sku)}")
    if not name.strip() or len(name) > MAX_NAME or any(unicodedata.category(c)[0] == "C" for c in name):
        problems.append(
            f"name: expected 1 to {MAX_NAME} characters, no control characters, got {_shown(name)}"
        )
    quantity_value, problem = _count("quantity", quantity, MAX_QUANTITY)
    problems += [problem] if problem else []
    price_value, problem = _count("price_cents", price, MAX_PRICE_CENTS)
    problems += [problem] if problem else []
    if problems:
        raise ValueError("; ".join(problems))
    return {"sku": sku, "name": name, "quantity": quantity_value, "price_cents": price_value}


def records(body: BinaryIO, *, max_bytes: int, max_field: int) -> Iterator[dict[str, Any]]:
    """Each row of the CSV stream ``body`` as a record; :class:`Rejected` at the first problem."""
    raw = io.BufferedReader(_Capped(body, max_bytes), READ_CHUNK)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
    # Python's csv limit is per process; the reader is the only csv user in this function.
    csv.field_size_limit(max_field)
    max_line = max_field * len(COLUMNS) + 3 * len(COLUMNS) + 2
    reader = csv.reader(_lines(text, max_line), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise Rejected("empty: expected the header " + ",".join(COLUMNS))
        if tuple(header) != COLUMNS:
            raise Rejected(f"line 1: expected the header {','.join(COLUMNS)}, got {_shown(','.join(header))}")
        for row in reader:
            if not row:
                continue
            try:
                yield record(row)
            except ValueError as error:
                raise Rejected(f"line {reader.line_num}: {error}") from None
    except csv.Error as error:
        raise Rejected(f"line {reader.line_num}: {error}") from None
