"""The REFI-QDA exchange model: what a .qdc codebook or .qdpx project holds, as plain data,
and the mapping between REFI-QDA codes and Loupe codebooks.

REFI-QDA codes are named, nested, and identified by GUID; Loupe codes are identified by a slug
path ("trust/personal") and need a definition. On import a code's id is a slug of its name
(made unique among its siblings), its definition is its description (or its name when it has
none), and its GUID is kept in the codebook so that an export gives the same GUIDs back.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.codebook import Codebook

LOUPE_NAMESPACE = uuid.UUID("6f1d6c1e-5a3b-4c8e-9a43-3f0e9b8f2c71")  # for deterministic GUIDs


def stable_guid(*parts: object) -> str:
    """A GUID derived from the parts: exporting the same thing twice gives the same GUID."""
    return str(uuid.uuid5(LOUPE_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass
class QdaCode:
    guid: str
    name: str
    description: str = ""
    color: str | None = None
    codable: bool = True
    children: list[QdaCode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # note GUIDs (memos on the code)

    def walk(self) -> Iterator[QdaCode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class QdaUser:
    guid: str
    name: str


@dataclass
class QdaNote:
    guid: str
    text: str
    name: str = ""
    user: str | None = None
    created: datetime | None = None


@dataclass
class QdaCoding:
    """One code applied to one selection [start, end) of a text source, by one user."""

    guid: str
    code: str  # the code's GUID
    start: int
    end: int
    selection: str  # the selection's GUID (codings of one selection share it)
    user: str | None = None
    created: datetime | None = None
    notes: list[str] = field(default_factory=list)  # note GUIDs


@dataclass
class QdaSource:
    guid: str
    name: str
    text: str
    kind: str = "txt"  # txt | docx: where the text came from
    codings: list[QdaCoding] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    created: datetime | None = None
    notes: list[str] = field(default_factory=list)  # note GUIDs (memos on the document)


@dataclass
class QdaProject:
    name: str
    origin: str = ""
    description: str = ""
    users: list[QdaUser] = field(default_factory=list)
    codes: list[QdaCode] = field(default_factory=list)
    sources: list[QdaSource] = field(default_factory=list)
    notes: dict[str, QdaNote] = field(default_factory=dict)
    unsupported: list[dict[str, Any]] = field(default_factory=list)  # sources Loupe cannot hold
    warnings: list[str] = field(default_factory=list)
    created: datetime | None = None
    note_refs: list[str] = field(default_factory=list)  # notes on the project as a whole
    folder: str = "sources"  # the archive's folder of source files, in the case the file used ("Sources" or "sources")
    variable_guids: dict[str, str] = field(default_factory=dict)  # {variable name: GUID} as the file gave them

    def all_codes(self) -> list[QdaCode]:
        return [c for top in self.codes for c in top.walk()]


def slug(name: str) -> str:
    """A Loupe code id from a display name: 'Trust in NHS (general)' -> 'trust-in-nhs-general'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9_]+", "-", ascii_name.lower()).strip("-_")
    return s[:60].rstrip("-_") or "code"


def normalise_color(color: str | None) -> str | None:
    """'#abc' -> '#AABBCC'; anything else that is not '#RRGGBB' is dropped."""
    if not color:
        return None
    color = color.strip()
    if re.fullmatch(r"#[0-9A-Fa-f]{3}", color):
        color = "#" + "".join(ch * 2 for ch in color[1:])
    return color.upper() if re.fullmatch(r"#[0-9A-Fa-f]{6}", color) else None


def codebook_document(codes: list[QdaCode], *, name: str, description: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """A Loupe codebook document for REFI-QDA codes, and {code GUID: Loupe code path}."""
    paths: dict[str, str] = {}

    def convert(items: list[QdaCode], parent: str | None) -> list[dict[str, Any]]:
        out, used = [], set()
        for code in items:
            base = slug(code.name)
            ident, n = base, 2
            while ident in used:
                ident, n = f"{base}-{n}", n + 1
            used.add(ident)
            path = f"{parent}/{ident}" if parent else ident
            paths[code.guid.strip("{}").lower()] = path
            item: dict[str, Any] = {"id": ident, "name": code.name.strip() or ident, "definition": code.description.strip() or code.name.strip() or ident}
            color = normalise_color(code.color)
            if color:
                item["color"] = color
            item["guid"] = code.guid.strip("{}").lower()
            if not code.codable:
                item["codable"] = False
            if code.children:
                item["children"] = convert(code.children, path)
            out.append(item)
        return out

    doc: dict[str, Any] = {"name": name, "codes": convert(codes, None)}
    if description:
        doc["description"] = description
    return doc, paths


def codes_of(codebook: Codebook, *, scope: object = "") -> tuple[list[QdaCode], dict[str, str]]:
    """REFI-QDA codes for a Loupe codebook, and {Loupe code path: GUID}. A code without a stored
    GUID gets one derived from `scope` and its path, so repeated exports agree."""
    guids = {c.path: (c.guid or stable_guid("code", scope, c.path)) for c in codebook}

    def build(path: str) -> QdaCode:
        c = codebook[path]
        return QdaCode(
            guid=guids[path], name=c.name, description=c.definition, color=c.color, codable=c.codable,
            children=[build(p) for p in c.children],
        )

    return [build(c.path) for c in codebook if c.parent is None], guids
