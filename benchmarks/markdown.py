"""Figures written into a docs page between two markers, leaving the page's own text as written."""

from __future__ import annotations

from pathlib import Path


def write_between(path: Path, section: str, begin: str, end: str) -> None:
    """Replace what stands between ``begin`` and ``end`` with ``section``, or append it marked."""
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text += ("\n" if text else "") + block + "\n"
    path.write_text(text)
