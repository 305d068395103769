"""Sense phrases: two-word phrases of a code's exclude criteria that use one of the code's own
words in another sense ("NHS trust", "trust board" for the code Trust). The zero-shot scorer
(models.classifiers.zero_shot) takes the code's word out of such a phrase before scoring a segment
for that code."""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def sense_phrases(name_words: set[str], excludes: Sequence[str]) -> list[str]:
    """Two-word phrases of the exclude criteria built on one of the code's own words.

    >>> sense_phrases({"trust"}, ["An NHS trust or the trust board as an organisation."])
    ['nhs trust', 'trust board']

    The other word must be a content word (not a stop word, not one of the code's words). Text in
    parentheses is left out: there criteria point to other codes ("(code shared leadership)").
    """
    stop = _stop_words()
    out: list[str] = []
    for text in excludes:
        words = [w.lower() for w in _WORD.findall(re.sub(r"\([^)]*\)", " ", text))]
        for a, b in zip(words, words[1:], strict=False):
            for own, other in ((a, b), (b, a)):
                if own in name_words and other not in name_words and other not in stop and len(other) > 2:
                    phrase = f"{a} {b}"
                    if phrase not in out:
                        out.append(phrase)
    return out


__all__ = ["_WORD", "_stop_words", "sense_phrases"]
