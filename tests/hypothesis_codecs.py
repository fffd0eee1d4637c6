"""The characters UTF-8 encodes, given to hypothesis without encoding every code point.

``st.text()``, ``st.characters()`` and ``st.characters(codec="utf-8")`` draw from what UTF-8
encodes, and hypothesis finds that by encoding each of the 1,114,112 code points once per process
where its ``.hypothesis`` folder has no copy yet (as in CI, or any clean checkout): a second of CPU
in each xdist worker. Python's strict UTF-8 encodes every code point but the surrogates and decodes
each back to itself (tests/test_hypothesis_codecs.py checks all of them against the codec in one
pass), so hypothesis gets the same characters and draws the same examples. Other codecs are
measured as hypothesis measures them.
"""

from __future__ import annotations

import functools
import sys

#: The code points strict UTF-8 refuses: the surrogates, which only UTF-16 uses, in pairs.
SURROGATES = (0xD800, 0xDFFF)
#: What strict UTF-8 encodes, as hypothesis's intervals: everything but the surrogates.
UTF8_INTERVALS = ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, sys.maxunicode))


def register() -> None:
    """Answer hypothesis's question for UTF-8 from :data:`UTF8_INTERVALS`."""
    try:
        from hypothesis.internal import charmap
        from hypothesis.internal.intervalsets import IntervalSet
    except ImportError:
        return
    measured = getattr(charmap, "intervals_from_codec", None)
    if measured is None or getattr(measured, "utf8_known", False):
        return  # another hypothesis than this was written for, or registered already

    @functools.cache
    def intervals_from_codec(codec_name: str):
        if codec_name == "utf-8":
            return IntervalSet(UTF8_INTERVALS), IntervalSet(())
        return measured(codec_name)

    intervals_from_codec.utf8_known = True
    charmap.intervals_from_codec = intervals_from_codec
