"""The one rule for names (of codes, codebooks, projects, coders, documents, themes, attributes):
no control character other than tab, line feed and carriage return, and no lone surrogate or
non-character. Such a name cannot be written to REFI-QDA XML, a CSV header or a terminal as it
is. Values (texts, definitions, memos) are not held to it; writers strip what XML cannot carry.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def bad_character(name: str) -> str | None:
    """The first character `name` may not hold, as U+XXXX, or None when there is none.

    >>> bad_character("site\\x01"), bad_character("site B")
    ('U+0001', None)
    """
    found = _FORBIDDEN.search(name)
    return f"U+{ord(found.group()):04X}" if found else None
