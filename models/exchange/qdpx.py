"""REFI-QDA projects (.qdpx): a zip archive holding project.qde (XML, Project.xsd) and the
sources' text under sources/ (any case on read; the folder's case is kept in QdaProject.folder
and written back, so a project that said Sources/ gets Sources/ again).

Read: text sources (inline text, an internal plain-text file, or the text of an internal .docx),
users, the codebook, codings with their character selections, notes linked to codings, and
variable values of sources and of the cases that contain them. Picture, PDF, audio and video
sources are listed in `unsupported`, with how many codings they hold, never dropped silently.
Write: the same, with each source's text as <folder>/<guid>.txt. GUIDs, names, users and
creation times are written as the QdaProject holds them: read then written, a file keeps them.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from models.exchange.archive import DEFAULT_LIMITS, ArchiveLimits, SafeArchive, write_archive
from models.exchange.errors import QdaError
from models.exchange.qda import QdaCoding, QdaNote, QdaProject, QdaSource, QdaUser, stable_guid
from models.exchange.qdc import XSI, child, children, local, read_codes, required, text_of, write_codes, xml_text
from models.exchange.schema import Validation, element_path, parse_xml, validate

PROJECT_NS = "urn:QDA-XML:project:1.0"
PROJECT_XSD_URL = "http://schema.qdasoftware.org/versions/Project/v1.0/Project.xsd"
UNSUPPORTED = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")
_VALUE_TYPES = {"TextValue": "Text", "BooleanValue": "Boolean", "IntegerValue": "Integer", "FloatValue": "Float", "DateValue": "Date", "DateTimeValue": "DateTime"}


def _guid(value: str | None) -> str | None:
    return value.strip().strip("{}").lower() if value else None


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None


def _int(el: etree._Element, attr: str) -> int:
    try:
        return int(required(el, attr))
    except ValueError:
        raise QdaError(f"{element_path(el)}: {attr} is not a whole number ({el.get(attr)!r})") from None


class _Reader:
    def __init__(self, archive: SafeArchive) -> None:
        self.archive = archive
        self.real = {n.lower(): n for n in archive.names()}
        self.folders: list[str] = []  # the sources folder as the archive spells it, once per member read

    def internal(self, ref: str, el: etree._Element) -> bytes:
        """The bytes behind an 'internal://name' path; anything else is outside the archive."""
        if not ref.startswith("internal://"):
            raise QdaError(f"{element_path(el)} ({el.get('name') or ''}): its file {ref!r} is outside the archive; "
                           "export the project from your QDA tool with the sources embedded")
        member = "sources/" + ref[len("internal://"):]
        if not self.archive.has(member):
            raise QdaError(f"{element_path(el)} ({el.get('name') or ''}): its file {member!r} is missing from the archive")
        self.folders.append(self.real[member.lower()].split("/", 1)[0])
        return self.archive.read(member)

    def text(self, el: etree._Element) -> tuple[str, str]:
        """(text, kind) of a TextSource or Note."""
        inline = child(el, "PlainTextContent")
        if inline is not None:
            return text_of(inline), "txt"
        if el.get("plainTextPath"):
            data = self.internal(el.get("plainTextPath", ""), el)
            try:
                return data.decode("utf-8-sig"), "txt"
            except UnicodeDecodeError as exc:
                raise QdaError(f"{element_path(el)}: its plain text is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        if (el.get("richTextPath") or "").lower().endswith(".docx"):
            return _docx_text(self.internal(el.get("richTextPath", ""), el), el), "docx"
        raise QdaError(f"{element_path(el)} ({el.get('name') or ''}): has no text (no PlainTextContent, plainTextPath or .docx)")


def _docx_text(data: bytes, el: etree._Element) -> str:
    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise QdaError(f"{element_path(el)}: its .docx is not readable ({exc.__class__.__name__})") from None
    return "\n".join(p.text for p in document.paragraphs)


def _value(vv: etree._Element) -> Any:
    for el in vv:
        kind = _VALUE_TYPES.get(local(el))
        if kind is None:
            continue
        raw = text_of(el).strip()
        try:
            if kind == "Boolean":
                return raw.lower() in ("true", "1")
            if kind == "Integer":
                return int(raw)
            if kind == "Float":
                return float(raw)
        except ValueError:
            raise QdaError(f"{element_path(el)}: {raw!r} is not a valid {kind}") from None
        return raw
    return None


def _variable_values(el: etree._Element, variables: dict[str, str]) -> dict[str, Any]:
    out = {}
    for vv in children(el, "VariableValue"):
        ref = child(vv, "VariableRef")
        guid = _guid(ref.get("targetGUID")) if ref is not None else None
        if guid not in variables:
            raise QdaError(f"{element_path(vv)}: refers to variable {guid}, which the project does not declare")
        out[variables[guid]] = _value(vv)
    return out


def _codings(src_el: etree._Element, source: QdaSource, code_guids: set[str], warnings: list[str]) -> None:
    def coding(c_el: etree._Element, start: int, end: int, selection: str, user: str | None, notes: list[str]) -> None:
        ref = child(c_el, "CodeRef")
        code = _guid(ref.get("targetGUID")) if ref is not None else None
        if code not in code_guids:
            raise QdaError(f"{element_path(c_el)}: refers to code {code}, which is not in the project's codebook")
        own_notes = [_guid(n.get("targetGUID")) for n in children(c_el, "NoteRef")]
        source.codings.append(QdaCoding(
            guid=_guid(required(c_el, "guid")) or "", code=code or "", start=start, end=end, selection=selection,
            user=_guid(c_el.get("creatingUser")) or user, created=_when(c_el.get("creationDateTime")),
            notes=[n for n in own_notes + notes if n],
        ))

    for sel in children(src_el, "PlainTextSelection"):
        start, end = _int(sel, "startPosition"), _int(sel, "endPosition")
        if not 0 <= start < end <= len(source.text):
            warnings.append(f"{element_path(sel)}: selection {start}-{end} lies outside {source.name!r} "
                            f"({len(source.text)} characters); its {len(children(sel, 'Coding'))} coding(s) were skipped")
            continue
        notes = [_guid(n.get("targetGUID")) or "" for n in children(sel, "NoteRef")]
        for c_el in children(sel, "Coding"):
            coding(c_el, start, end, _guid(required(sel, "guid")) or "", _guid(sel.get("creatingUser")), notes)
    for c_el in children(src_el, "Coding"):  # a coding of the whole source
        coding(c_el, 0, len(source.text), stable_guid("whole", source.guid), None, [])


def read_qdpx(data: bytes, *, schema_dir: str | Path | None = None, limits: ArchiveLimits = DEFAULT_LIMITS) -> tuple[QdaProject, Validation]:
    """The project in a .qdpx archive. Raises QdaError with the reason and element path."""
    archive = SafeArchive(data, limits)
    qde = [n for n in archive.names() if "/" not in n and n.lower().endswith(".qde")]
    if len(qde) != 1:
        raise QdaError(f"the .qdpx archive must hold exactly one .qde project file at its top level; found {len(qde)}")
    root = parse_xml(archive.read(qde[0]), qde[0])
    if local(root) != "Project" or etree.QName(root).namespace != PROJECT_NS:
        raise QdaError(f"{qde[0]}: the root element is {root.tag!r}, not Project in namespace {PROJECT_NS}")
    check = validate(root, "project", schema_dir)
    if check.errors:
        raise QdaError(f"{qde[0]} does not follow Project.xsd:\n  " + "\n  ".join(check.errors))
    reader = _Reader(archive)
    project = QdaProject(name=required(root, "name"), origin=root.get("origin", ""), created=_when(root.get("creationDateTime")),
                         description=text_of(child(root, "Description")).strip())
    users_el = child(root, "Users")
    for u in children(users_el, "User") if users_el is not None else []:
        guid = _guid(required(u, "guid")) or ""
        project.users.append(QdaUser(guid, (u.get("name") or u.get("id") or f"user-{guid[:8]}").strip()))
    book = child(root, "CodeBook")
    codes_el = child(book, "Codes") if book is not None else None
    project.codes = read_codes(codes_el) if codes_el is not None else []
    code_guids = {c.guid for c in project.all_codes()}
    notes_el = child(root, "Notes")
    for n in children(notes_el, "Note") if notes_el is not None else []:
        guid = _guid(required(n, "guid")) or ""
        project.notes[guid] = QdaNote(guid, reader.text(n)[0], n.get("name", ""), _guid(n.get("creatingUser")), _when(n.get("creationDateTime")))
    vars_el = child(root, "Variables")
    variables = {_guid(required(v, "guid")) or "": required(v, "name") for v in (children(vars_el, "Variable") if vars_el is not None else [])}
    project.variable_guids = {name: guid for guid, name in variables.items()}
    by_guid: dict[str, QdaSource] = {}
    sources_el = child(root, "Sources")
    for s in list(sources_el) if sources_el is not None else []:
        kind = local(s)
        if kind in UNSUPPORTED:
            project.unsupported.append({"name": s.get("name", ""), "type": kind, "guid": _guid(s.get("guid")),
                                        "codings": len([e for e in s.iter() if local(e) == "Coding"])})
            continue
        if kind != "TextSource":
            continue
        text, fmt = reader.text(s)
        source = QdaSource(guid=_guid(required(s, "guid")) or "", name=(s.get("name") or "").strip() or f"source-{s.get('guid')}",
                           text=text, kind=fmt, user=_guid(s.get("creatingUser")), created=_when(s.get("creationDateTime")),
                           variables=_variable_values(s, variables),
                           notes=[_guid(n.get("targetGUID")) or "" for n in children(s, "NoteRef")])
        _codings(s, source, code_guids, project.warnings)
        project.sources.append(source)
        by_guid[source.guid] = source
    project.note_refs = [_guid(n.get("targetGUID")) or "" for n in children(root, "NoteRef")]
    if reader.folders:
        project.folder = reader.folders[0]
    cases_el = child(root, "Cases")
    for case in children(cases_el, "Case") if cases_el is not None else []:
        values = _variable_values(case, variables)
        for ref in children(case, "SourceRef"):
            target = by_guid.get(_guid(ref.get("targetGUID")) or "")
            if target is not None:
                target.variables = {**values, **target.variables}
    return project, check


def _xsd_value(value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return "Boolean", "true" if value else "false"
    if isinstance(value, int):
        return "Integer", str(value)
    if isinstance(value, float):
        return "Float", repr(value)
    return "Text", str(value)


def _stamp(el: etree._Element, user: str | None, created: datetime | date | None, user_attr: str = "creatingUser") -> None:
    if user:
        el.set(user_attr, user)
    if isinstance(created, datetime):
        el.set("creationDateTime", created.isoformat(timespec="seconds"))


def write_qdpx(project: QdaProject, *, schema_dir: str | Path | None = None) -> tuple[bytes, Validation]:
    """A .qdpx archive for the project, validated against Project.xsd when it is found."""
    ns = PROJECT_NS

    def q(name: str) -> str:
        return f"{{{ns}}}{name}"

    root = etree.Element(q("Project"), {"name": xml_text(project.name), "origin": project.origin or "Loupe"}, nsmap={None: ns, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{ns} {PROJECT_XSD_URL}")
    if project.created:
        root.set("creationDateTime", project.created.isoformat(timespec="seconds"))
    if project.users:
        users = etree.SubElement(root, q("Users"))
        for u in project.users:
            etree.SubElement(users, q("User"), {"guid": u.guid, "name": xml_text(u.name)})
    if project.codes:
        write_codes(etree.SubElement(etree.SubElement(root, q("CodeBook")), q("Codes")), project.codes, ns, notes=True)
    names = sorted({k for s in project.sources for k, v in s.variables.items() if v is not None})
    var_guids = {name: project.variable_guids.get(name) or stable_guid("variable", name) for name in names}
    if names:
        variables = etree.SubElement(root, q("Variables"))
        for name in names:
            kinds = {_xsd_value(s.variables[name])[0] for s in project.sources if s.variables.get(name) is not None}
            etree.SubElement(variables, q("Variable"), {"guid": var_guids[name], "name": xml_text(name), "typeOfVariable": kinds.pop() if len(kinds) == 1 else "Text"})
    members: dict[str, bytes] = {}
    folder = project.folder if project.folder.lower() == "sources" else "sources"
    if project.sources:
        sources = etree.SubElement(root, q("Sources"))
        for s in project.sources:
            el = etree.SubElement(sources, q("TextSource"), {"guid": s.guid, "name": xml_text(s.name), "plainTextPath": f"internal://{s.guid}.txt"})
            _stamp(el, s.user, s.created)
            members[f"{folder}/{s.guid}.txt"] = s.text.encode("utf-8")
            selections: dict[str, list[QdaCoding]] = {}
            for c in sorted(s.codings, key=lambda c: (c.start, c.end, c.selection, c.guid)):
                selections.setdefault(c.selection, []).append(c)
            for sel_guid, codings in selections.items():
                first = codings[0]
                sel = etree.SubElement(el, q("PlainTextSelection"), {"guid": sel_guid, "startPosition": str(first.start), "endPosition": str(first.end)})
                _stamp(sel, first.user, first.created)
                for c in codings:
                    c_el = etree.SubElement(sel, q("Coding"), {"guid": c.guid})
                    _stamp(c_el, c.user, c.created)
                    etree.SubElement(c_el, q("CodeRef"), {"targetGUID": c.code})
                    for note in c.notes:
                        etree.SubElement(c_el, q("NoteRef"), {"targetGUID": note})
            for note in s.notes:
                etree.SubElement(el, q("NoteRef"), {"targetGUID": note})
            for name in names:
                if s.variables.get(name) is not None:
                    vv = etree.SubElement(el, q("VariableValue"))
                    etree.SubElement(vv, q("VariableRef"), {"targetGUID": var_guids[name]})
                    kind, text = _xsd_value(s.variables[name])
                    etree.SubElement(vv, q(f"{kind}Value")).text = xml_text(text)
    if project.notes:
        notes = etree.SubElement(root, q("Notes"))
        for n in project.notes.values():
            el = etree.SubElement(notes, q("Note"), {"guid": n.guid, "name": xml_text(n.name) or "Note"})
            _stamp(el, n.user, n.created)
            etree.SubElement(el, q("PlainTextContent")).text = xml_text(n.text)
    if project.description:
        etree.SubElement(root, q("Description")).text = xml_text(project.description)
    for note in project.note_refs:
        etree.SubElement(root, q("NoteRef"), {"targetGUID": note})
    check = validate(root, "project", schema_dir)
    if check.errors:
        raise QdaError("the exported project breaks Project.xsd (a bug in Loupe):\n  " + "\n  ".join(check.errors))
    qde = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return write_archive({"project.qde": qde, **members}), check
