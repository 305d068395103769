"""Validation against the official REFI-QDA schemas (Codebook.xsd, Project.xsd) with lxml.

The schema files are MIT-licensed by REFI but are not shipped inside Loupe; they are read from
the folder the caller passes (the service passes its setting LOUPE_REFI_SCHEMA_DIR, else
shared/refi-qda beside a checkout). Nothing here reads the environment or a path of its own.
Without them, files are still parsed strictly, and every result says that schema validation did
not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from lxml import etree

from models.exchange.errors import QdaError

SCHEMA_FILES = {"codebook": "Codebook.xsd", "project": "Project.xsd"}


def find_schema_dir(explicit: str | Path | None = None) -> Path | None:
    """`explicit` when it holds both schema files, else None."""
    if explicit and all((Path(explicit) / f).is_file() for f in SCHEMA_FILES.values()):
        return Path(explicit)
    return None


@lru_cache(maxsize=8)
def _schema(path: str) -> etree.XMLSchema:
    try:
        return etree.XMLSchema(etree.parse(path, parser=etree.XMLParser(resolve_entities=False, no_network=True)))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise QdaError(f"the REFI-QDA schema {path} cannot be loaded ({exc})") from None


@dataclass
class Validation:
    """What schema validation found. `validated` is False when no schema was available."""

    validated: bool
    schema: str | None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        note = None if self.validated else "schema files not found; set LOUPE_REFI_SCHEMA_DIR to a folder holding Codebook.xsd and Project.xsd"
        return {"validated": self.validated, "schema": self.schema, "errors": list(self.errors), "note": note}


def element_path(el: etree._Element) -> str:
    """'Project/Sources/TextSource[2]/PlainTextSelection[1]': local names, 1-based among same-named siblings."""
    parts = []
    node: etree._Element | None = el
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/".join(reversed(parts))


def _log_path(entry: etree._LogEntry, root: etree._Element) -> str:
    """The element path of a schema error (lxml gives an XPath with namespace prefixes)."""
    try:
        found = root.getroottree().xpath(entry.path) if entry.path else []
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return element_path(found[0])
    except etree.XPathError:
        pass
    return entry.path or "?"


def validate(root: etree._Element, kind: str, schema_dir: str | Path | None = None) -> Validation:
    """Validate a parsed document against the schema for `kind` ('codebook' or 'project')."""
    found = find_schema_dir(schema_dir)
    if found is None:
        return Validation(False, None)
    path = found / SCHEMA_FILES[kind]
    schema = _schema(str(path))
    if schema.validate(root):
        return Validation(True, str(path))
    errors = [f"line {e.line}, {_log_path(e, root)}: {e.message}" for e in islice(schema.error_log, 20)]
    return Validation(True, str(path), errors)


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML: no DTD (REFI-QDA files have none, and a DTD is how entity bombs and
    external entities get in), no network."""
    refused = QdaError(f"{what} declares a DTD (<!DOCTYPE ...>); REFI-QDA files have none, so it is refused")
    if b"<!doctype" in data[:4096].lower():
        raise refused
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise QdaError(f"{what} is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise refused
    return root
