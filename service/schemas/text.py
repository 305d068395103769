"""The one rule for names: no control characters.

A name (of a project, coder, document, theme, code or attribute) may not hold a control
character other than tab, line feed and carriage return, nor a lone surrogate: such a name cannot
be written to REFI-QDA XML, a CSV cell or a terminal faithfully. Request bodies refuse one with a
422 through the `Name` type; services that take names from files (attribute CSVs) call
`bad_character`. Values (texts, memos, attribute values) may hold them: writers strip what XML
cannot carry (models.exchange.qdc.xml_text).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def bad_character(value: str) -> str | None:
    """The first character a name may not hold, as U+XXXX, or None when there is none."""
    found = _BAD.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def _checked(value: str) -> str:
    bad = bad_character(value)
    if bad:
        raise ValueError(f"a name may not contain the control character {bad}")
    return value


Name = Annotated[str, AfterValidator(_checked)]
