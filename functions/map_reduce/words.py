"""The word count's tokenisation, one rule for the mappers and for anyone checking their sum.

A word is a run of Unicode letters and digits (``\\w`` without ``_``), with inner apostrophes kept
(``don't``; a typographic apostrophe, U+2019, reads as ``'``), compared after Unicode case folding
(``Straße`` and ``STRASSE`` are one word, ``strasse``). Punctuation, underscores and whitespace of
any script separate words. Text is read as UTF-8 and not normalised: a precomposed ``é`` and ``e``
with a combining accent are different words, as they are different code points.
"""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile("[^\\W_]+(?:['\u2019][^\\W_]+)*")


def count_words(text: str) -> Counter[str]:
    return Counter(match.replace("\u2019", "'") for match in WORD.findall(text.casefold()))
