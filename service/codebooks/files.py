"""Codebook files: a .yaml, .yml or .json upload read as the codebook file format.

A file that is not UTF-8, not YAML/JSON, not a mapping, or over the structure budget (expanded
YAML aliases, nesting: models.structured, LOUPE_CODEBOOK_MAX_*) is refused (422) with a short
reason, and nothing is stored; a readable one becomes the next version exactly as
`versions.new_version` does.
"""

from __future__ import annotations

from typing import Any

from models.codebook import CodebookError, decode_codebook
from models.structured import DEFAULT_LIMITS, StructureLimits
from service.codebooks.versions import new_version
from service.errors import Invalid
from service.jobs.queue import Notifier
from service.projects.access import Caller
from service.storage.db import Database
from service.storage.tables import CodebookVersion, Project


def parse_file(filename: str | None, data: bytes, limits: StructureLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The mapping a codebook file holds (JSON when the name ends in .json, else YAML). Raises Invalid."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{filename}: not a readable YAML/JSON codebook (not UTF-8: {exc.reason} at byte {exc.start})") from None
    try:
        return decode_codebook(text, "json" if (filename or "").lower().endswith(".json") else "yaml", origin=str(filename), limits=limits)
    except CodebookError as exc:
        raise Invalid(str(exc)) from None


def import_file(db: Database, runner: Notifier, *, project: Project, coder: Caller, filename: str | None, data: bytes,
                limits: StructureLimits = DEFAULT_LIMITS) -> CodebookVersion:
    """A codebook file as the project's next version (see versions.new_version)."""
    return new_version(db, runner, project=project, coder=coder, data=parse_file(filename, data, limits))
