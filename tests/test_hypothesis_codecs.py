"""hypothesis is told the characters UTF-8 encodes, and they are exactly those Python's codec encodes."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.internal import charmap

from tests import hypothesis_codecs
from tests.hypothesis_codecs import SURROGATES, UTF8_INTERVALS


def test_strict_utf8_encodes_every_code_point_but_the_surrogates_each_back_to_itself():
    """What hypothesis would find by encoding (and decoding) each code point, in one pass: UTF-8 is
    a prefix code, so a string of them all round-trips only if each one does."""
    low, high = SURROGATES
    encodable = "".join(chr(i) for start, end in UTF8_INTERVALS for i in range(start, end + 1))
    assert len(encodable) + high - low + 1 == sys.maxunicode + 1
    assert encodable.encode("utf-8").decode("utf-8") == encodable
    for code_point in range(low, high + 1):
        with pytest.raises(UnicodeEncodeError):
            chr(code_point).encode("utf-8")


@settings(max_examples=20, deadline=None, derandomize=True)
@given(text=st.text(min_size=1))
def test_the_session_draws_utf8_text_from_those_intervals(text):
    encodable, non_roundtrip = charmap.intervals_from_codec("utf-8")
    assert encodable.intervals == UTF8_INTERVALS and non_roundtrip.intervals == ()
    assert text.encode("utf-8").decode("utf-8") == text


def test_other_codecs_are_measured_as_hypothesis_measures_them(monkeypatch):
    asked = []
    monkeypatch.setattr(charmap, "intervals_from_codec", lambda name: asked.append(name) or name)
    hypothesis_codecs.register()
    assert charmap.intervals_from_codec("latin-1") == "latin-1" and asked == ["latin-1"]
    assert charmap.intervals_from_codec("utf-8")[0].intervals == UTF8_INTERVALS and asked == ["latin-1"]
