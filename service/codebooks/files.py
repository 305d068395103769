"""Codebook files: a .yaml, .yml or .json upload read as the codebook file format.

A file that is not UTF-8, not YAML/JSON, or not a mapping is refused (422) with the reason, and
nothing is stored; a readable one becomes the next version exactly as `versions.new_version` does.
"""

from __future__ import annotations

import json
from typing import Any

from service.codebooks.versions import new_version
from service.errors import Invalid
from service.jobs.queue import Notifier
from service.projects.access import Caller
from service.storage.db import Database
from service.storage.tables import CodebookVersion, Project


def parse_file(filename: str | None, data: bytes) -> dict[str, Any]:
    """The mapping a codebook file holds (JSON when the name ends in .json, else YAML). Raises Invalid."""
    import yaml

    try:
        text = data.decode("utf-8-sig")
        parsed = json.loads(text) if (filename or "").lower().endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise Invalid(f"{filename}: not a readable YAML/JSON codebook ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if not isinstance(parsed, dict):
        raise Invalid(f"{filename}: a codebook file holds a mapping with 'name' and 'codes'")
    return parsed


def import_file(db: Database, runner: Notifier, *, project: Project, coder: Caller, filename: str | None, data: bytes) -> CodebookVersion:
    """A codebook file as the project's next version (see versions.new_version)."""
    return new_version(db, runner, project=project, coder=coder, data=parse_file(filename, data))
