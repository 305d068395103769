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


def _pairs(words: list[str]) -> list[tuple[str, str]]:
    return list(zip(words, words[1:], strict=False))


def sense_phrases(name_words: set[str], excludes: Sequence[str]) -> list[str]:
    """Two-word phrases of the exclude criteria built on one of the code's own words.

    >>> sense_phrases({"trust"}, ["An NHS trust or the trust board as an organisation."])
    ['nhs trust', 'trust board']

    The other word must be a content word (not a stop word, not one of the code's words). Text in
    parentheses is left out: there criteria point to other codes ("(code shared leadership)").
    A phrase does not cross punctuation ('not the word "trust"', "policy, strategy"), and a word
    after the code's own must not look like a regular past participle (five or more letters
    ending in -ed): "power exercised through money" and "leadership shared across partners" use
    the word in its own sense, while "trust deed" is kept. Irregular participles ("power held")
    are not recognised.

    >>> sense_phrases({"power"}, ["Power exercised through money (code funding)."])
    []
    """
    stop = _stop_words()
    out: list[str] = []
    for text in excludes:
        runs = re.split(r"[^\w\s'-]+", re.sub(r"\([^)]*\)", " ", text))
        pairs = [pair for run in runs for pair in _pairs([w.lower() for w in _WORD.findall(run)])]
        for a, b in pairs:
            for own, other in ((a, b), (b, a)):
                if own == a and len(other) > 4 and other.endswith("ed"):
                    continue  # "power exercised", "leadership shared": a verb, not a compound
                if own in name_words and other not in name_words and other not in stop and len(other) > 2:
                    phrase = f"{a} {b}"
                    if phrase not in out:
                        out.append(phrase)
    return out


__all__ = ["_WORD", "_stop_words", "sense_phrases"]
