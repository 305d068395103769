"""Names in request bodies: no control characters (the rule is models.text.names).

A name (of a project, coder, document, theme, code or attribute) may not hold a control
character other than tab, line feed and carriage return, nor a lone surrogate: such a name cannot
be written to REFI-QDA XML, a CSV cell or a terminal faithfully. Request bodies refuse one with a
422 through the `Name` type; services that take names from files (attribute CSVs) call
`bad_character`. Values (texts, memos, attribute values) may hold them: writers strip what XML
cannot carry (models.exchange.qdc.xml_text).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from models.text.names import bad_character as bad_character  # the rule itself; re-exported for the services


def _checked(value: str) -> str:
    bad = bad_character(value)
    if bad:
        raise ValueError(f"a name may not contain the control character {bad}")
    return value


Name = Annotated[str, AfterValidator(_checked)]
