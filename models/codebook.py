"""Codebooks: hierarchical codes with definitions, criteria and example passages.

File format (YAML or JSON), validated against CODEBOOK_SCHEMA:

    name: Cross-sector collaboration
    version: 1
    exclusive: false        # optional: true when a segment takes at most one code (see below)
    not_coded: [...]        # optional: passages that get no code (small talk, logistics, ...); absent:
                            # Loupe's shipped list (models/data/not_coded.yaml); []: none
    codes:
      - id: trust
        name: Trust
        definition: ...
        include: [...]      # when to apply
        exclude: [...]      # when not to apply
        examples: [...]     # passages that should get the code
        children: [ ...same shape... ]
        guid: ...           # optional: the code's REFI-QDA GUID, kept across import and export
        codable: false      # optional: a grouping code that is not applied itself (REFI-QDA isCodable)

A code's `path` joins the ids from the root: "trust/personal".

`exclusive: true` declares that the codes exclude each other (a sentence's rhetorical role, a
yes/no scheme). The learned head then treats the codebook as one choice among the codes and "no
code" (models.classifiers.learned), so that every decision teaches every code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from models.base import LoupeError
from models.structured import DEFAULT_LIMITS, StructureError, StructureLimits, load_text
from models.text.names import bad_character

_CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "definition"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_\-]*$"},
        "name": {"type": "string", "minLength": 1},
        "definition": {"type": "string", "minLength": 1},
        "include": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "examples": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "color": {"type": "string", "pattern": r"^#[0-9A-Fa-f]{6}$"},
        "guid": {"type": "string", "pattern": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "codable": {"type": "boolean"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/code"}},
    },
}

CODEBOOK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "codes"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "version": {"type": ["integer", "string"]},
        "description": {"type": "string"},
        "exclusive": {"type": "boolean"},
        "not_coded": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "codes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/code"}},
    },
    "$defs": {"code": _CODE_SCHEMA},
}


MAX_ERRORS = 10  # validation problems named in a CodebookError


class CodebookError(LoupeError):
    """A codebook file is missing, unreadable or invalid; the message says where."""


@dataclass(frozen=True)
class Code:
    path: str  # "trust/personal"
    id: str
    name: str
    definition: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    color: str | None = None
    parent: str | None = None
    children: tuple[str, ...] = ()
    guid: str | None = None
    codable: bool = True


@dataclass(frozen=True)
class Codebook:
    name: str
    codes: dict[str, Code]  # by path, in file order (parents before children)
    version: str = "1"
    description: str = ""
    exclusive: bool = False  # codes exclude each other: a segment takes at most one
    not_coded: tuple[str, ...] | None = None  # passages that get no code; None: the shipped list (default_not_coded)
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __iter__(self) -> Iterator[Code]:
        return iter(self.codes.values())

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, path: str) -> Code:
        try:
            return self.codes[path]
        except KeyError:
            raise CodebookError(f"unknown code {path!r}; known codes: {', '.join(self.codes)}") from None

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON form: equal codebooks have equal fingerprints."""
        blob = json.dumps(self.source, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def scoring_fingerprint(self) -> str:
        """`fingerprint` with the not-coded list in effect: a codebook that brings no list of its own
        is scored with Loupe's shipped one (default_not_coded), so a change to that list changes
        this, and a batch run or a stored suggestion scored with the old list is not taken for the
        new one."""
        if self.not_coded is not None:
            return self.fingerprint
        blob = json.dumps([self.fingerprint, list(default_not_coded())], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def ancestors(self, path: str) -> list[str]:
        out, parent = [], self[path].parent
        while parent:
            out.append(parent)
            parent = self.codes[parent].parent
        return out


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def parse_codebook(data: Any, origin: str = "<codebook>") -> Codebook:
    """Validate a decoded codebook document and build the Codebook. Raises CodebookError, whose
    message names at most MAX_ERRORS problems, each cut to 200 characters (a validator's message
    quotes the offending value, which may be large)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(CODEBOOK_SCHEMA)
    try:
        found = list(islice(validator.iter_errors(data), MAX_ERRORS + 1))  # lazily: never every error of a large document
    except RecursionError:
        raise CodebookError(f"{origin}: codes are nested too deeply to be a codebook") from None
    if found:
        lines = []
        for err in sorted(found[:MAX_ERRORS], key=lambda e: [str(p) for p in e.absolute_path]):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path) or "(top level)"
            lines.append(f"  {_short(where.lstrip('.'), 120)}: {_short(err.message)}")
        if len(found) > MAX_ERRORS:
            lines.append("  (and more)")
        raise CodebookError(f"{origin} is not a valid codebook:\n" + "\n".join(lines))

    codes: dict[str, Code] = {}

    def walk(items: list[dict[str, Any]], parent: str | None) -> None:
        for item in items:
            path = f"{parent}/{item['id']}" if parent else item["id"]
            if path in codes:
                raise CodebookError(f"{origin}: code id {path!r} appears twice")
            children = item.get("children", [])
            codes[path] = Code(
                path=path,
                id=item["id"],
                name=item["name"].strip(),
                definition=item["definition"].strip(),
                include=tuple(s.strip() for s in item.get("include", [])),
                exclude=tuple(s.strip() for s in item.get("exclude", [])),
                examples=tuple(s.strip() for s in item.get("examples", [])),
                color=item.get("color"),
                parent=parent,
                children=tuple(f"{path}/{c['id']}" for c in children),
                guid=item.get("guid"),
                codable=item.get("codable", True),
            )
            walk(children, path)

    walk(data["codes"], None)
    return Codebook(
        name=data["name"],
        codes=codes,
        version=str(data.get("version", "1")),
        description=data.get("description", ""),
        exclusive=bool(data.get("exclusive", False)),
        not_coded=tuple(t.strip() for t in data["not_coded"]) if "not_coded" in data else None,
        source=data,
    )


def check_names(codebook: Codebook, origin: str = "<codebook>") -> None:
    """Refuse a codebook whose name or a code's name holds a control character (models.text.names).
    Input paths call it (files, the review service's new versions); reading a stored version does
    not, so a version stored before the rule still reads."""
    for what, name in [("the codebook's name", codebook.name), *((f"the name of code {c.path!r}", c.name) for c in codebook)]:
        bad = bad_character(name)
        if bad:
            raise CodebookError(f"{origin}: {what} contains the control character {bad}; names may not")


def decode_codebook(text: str, fmt: Literal["yaml", "json"], *, origin: str, limits: StructureLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The mapping a codebook file's text holds, read within `limits` (models.structured: YAML
    aliases and nesting are budgeted before anything is built). Raises CodebookError."""
    try:
        data = load_text(text, fmt, limits)
    except StructureError as exc:
        raise CodebookError(f"{origin}: {exc}") from None
    if not isinstance(data, dict):
        raise CodebookError(f"{origin}: a codebook file holds a mapping with 'name' and 'codes'")
    return data


def load_codebook(path: str | Path, limits: StructureLimits = DEFAULT_LIMITS) -> Codebook:
    """Load a codebook from a .yaml/.yml/.json file. Raises CodebookError with the reason."""
    p = Path(path)
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise CodebookError(f"{p}: a codebook must be a .yaml, .yml or .json file")
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CodebookError(f"{p}: no such codebook file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CodebookError(f"{p}: cannot be read as UTF-8 text ({exc})") from None
    data = decode_codebook(raw, "json" if p.suffix.lower() == ".json" else "yaml", origin=str(p), limits=limits)
    codebook = parse_codebook(data, origin=str(p))
    check_names(codebook, origin=str(p))
    return codebook


def seed_codebook() -> Codebook:
    """The seed codebook for cross-sector collaboration research (trust, power, control, leadership)."""
    import yaml

    raw = resources.files("models.data").joinpath("seed_codebook.yaml").read_text(encoding="utf-8")
    return parse_codebook(yaml.safe_load(raw), origin="seed codebook")


def default_not_coded() -> tuple[str, ...]:
    """Loupe's shipped list of passages that get no code (models/data/not_coded.yaml): greetings,
    recording and consent, logistics, small talk, careers, service descriptions, empty answers."""
    import yaml

    raw = resources.files("models.data").joinpath("not_coded.yaml").read_text(encoding="utf-8")
    return tuple(str(t).strip() for t in yaml.safe_load(raw)["not_coded"])


def resolve_codebook(spec: str | Path, limits: StructureLimits = DEFAULT_LIMITS) -> Codebook:
    """"seed" means the shipped seed codebook; anything else is a file path, read within `limits`."""
    return seed_codebook() if str(spec) == "seed" else load_codebook(spec, limits)


# Editing a codebook document (the dict form above): shared by adopting clusters and by merging,
# splitting and moving codes.
def code_entry(content: dict[str, Any], path: str) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """(the list that holds the code's entry, the entry) for a code path, or None."""
    items = content["codes"]
    parts = path.split("/")
    for k, part in enumerate(parts):
        node = next((c for c in items if c["id"] == part), None)
        if node is None:
            return None
        if k == len(parts) - 1:
            return items, node
        items = node.setdefault("children", [])
    return None


def children_of(content: dict[str, Any], parent: str | None) -> list[dict[str, Any]] | None:
    """The list of codes under `parent` (the top level for None), or None when there is no such code."""
    if not parent:
        top: list[dict[str, Any]] = content["codes"]
        return top
    found = code_entry(content, parent)
    return None if found is None else found[1].setdefault("children", [])


def entry_paths(entry: dict[str, Any], parent: str | None) -> list[str]:
    """The paths of a code entry and of every code beneath it."""
    here = f"{parent}/{entry['id']}" if parent else entry["id"]
    return [here] + [p for c in entry.get("children", []) for p in entry_paths(c, here)]
