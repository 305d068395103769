"""REFI-QDA import and export: projects (.qdpx) and codebooks (.qdc) to and from QDA tools.

Import reads and checks the whole file before anything is stored; a file that cannot be used
is refused with the reason and touches nothing. A project import makes a new Loupe project: the
text sources become documents, the users coders, the codebook version 1, and each coding one
"add" decision per segment its selection overlaps, attributed to the coding's user, with the
selection kept on the decision (span_start, span_end) and the notes linked to the coding as memo.

Export writes the current codebook, every document, and each coder's current codings as
selections created by that coder.

Identities survive a round trip: what the file said about the project (creation time, the case of
its sources folder), each user (GUID), source (creating user, creation time), coding (GUID, its
selection's GUID, creation time, its notes with their GUIDs, names, users and times) and note on
the project, a code or a source (GUID, name, time) is kept in the rows' `exchange` column and
written back by export; Loupe's own timestamps stay the times things entered Loupe. A coding whose
file gave no user is attributed to the importer; a missing time stays missing. So a project
exported, imported and exported again gives the same project.qde. A coding that came from an accepted model suggestion carries a
note with the suggestion's score, model and codebook version (the standard has no field for
them), so provenance survives the trip into NVivo, ATLAS.ti, MAXQDA or QualCoder.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import Document
from models.exchange.errors import ArchiveTooLarge
from models.exchange.qda import (
    QdaCoding,
    QdaNote,
    QdaProject,
    QdaSource,
    QdaUser,
    codebook_document,
    codes_of,
    stable_guid,
)
from models.exchange.qdc import read_qdc, write_qdc
from models.exchange.qdpx import read_qdpx, write_qdpx
from models.text.readers import looks_like_transcript
from models.text.segment import SegmentationConfig, TokenCounter, approx_tokens
from service.codebooks.versions import (
    add_codebook_version,
    as_codebook,
    codebook_versions,
    current_codebook,
    get_codebook_version,
)
from service.documents.store import store_documents
from service.exchange.budget import ImportBudget
from service.projects.access import Caller
from service.projects.manage import add_coder, create_project, list_coders
from service.review.ledger import current_spans
from service.storage.tables import (
    CodebookVersion,
    Coder,
    Decision,
    DocumentRow,
    Memo,
    Project,
    SegmentRow,
)

GUID_KEY = "refi:guid"  # document attribute holding the source's REFI-QDA GUID
# REFI's XSDs are not shipped in the package: without a configured folder (settings.refi_schema_dir),
# a checkout validates against shared/refi-qda beside it. models.exchange reads no path of its own.
CHECKOUT_SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "refi-qda"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("loupe")
    except PackageNotFoundError:
        return "dev"


VERSION = _version()


def _unique(name: str, used: set[str]) -> str:
    out, n = name, 2
    while out in used:
        out, n = f"{name} ({n})", n + 1
    used.add(out)
    return out


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _note_identity(note: QdaNote) -> dict[str, Any]:
    return {"guid": note.guid, "name": note.name, "user": note.user, "created": _iso(note.created), "text": note.text}


def _caller(row) -> Caller:
    return Caller(row.id, row.project_id, row.name, row.role)


def import_project(
    session: Session,
    *,
    data: bytes,
    owner_name: str,
    name: str | None = None,
    schema_dir: str | Path | None = None,
    segmentation: SegmentationConfig = SegmentationConfig(),
    count_tokens: TokenCounter = approx_tokens,
    budget: ImportBudget | None = None,
) -> tuple[Project, Coder, str, dict[str, Any]]:
    """A new project from a .qdpx archive: (project, its owner, the owner's token, the import report).
    Raises TooLarge when the archive inflates past `budget` or the import runs past its time
    (service.exchange.budget); the caller's transaction then stores nothing."""
    budget = (budget or ImportBudget()).start()
    try:  # everything is read and checked before any write
        qp, check = read_qdpx(data, schema_dir=schema_dir or CHECKOUT_SCHEMA_DIR, limits=budget.archive_limits())
    except ArchiveTooLarge as exc:
        raise budget.too_large(str(exc)) from None
    budget.check()
    doc, code_paths = codebook_document(qp.codes, name=f"{qp.name} codebook") if qp.codes else (None, {})
    project, owner, owner_token = create_project(session, name=(name or qp.name)[:200], owner_name=owner_name, description=qp.description, codebook=doc)
    project.exchange = {"created": _iso(qp.created), "folder": qp.folder, "variables": qp.variable_guids}
    book = current_codebook(session, project)
    owner_caller = _caller(owner)

    coders: dict[str, int] = {}
    tokens: list[dict[str, Any]] = [{"name": owner.name, "id": owner.id, "role": "owner", "token": None}]
    used = {owner.name}
    for user in qp.users:
        if user.name == owner_name:
            coders[user.guid] = owner.id
            owner.exchange = {"guid": user.guid}
            continue
        row, token = add_coder(session, project=project, name=_unique(user.name[:200], used), role="coder")
        row.exchange = {"guid": user.guid}
        coders[user.guid] = row.id
        tokens.append({"name": row.name, "id": row.id, "role": "coder", "token": token, "guid": user.guid})

    report: dict[str, Any] = {"warnings": list(qp.warnings), "unsupported": qp.unsupported, "validation": check.as_dict()}
    for ref in {c.user for s in qp.sources for c in s.codings if c.user and c.user not in coders}:
        row, token = add_coder(session, project=project, name=_unique(f"user-{ref[:8]}", used), role="coder")
        row.exchange = {"guid": ref}
        coders[ref] = row.id
        tokens.append({"name": row.name, "id": row.id, "role": "coder", "token": token, "guid": ref})
        report["warnings"].append(f"codings name user {ref}, who is not in the project's Users; imported as coder {row.name!r}")

    names: set[str] = set()
    documents = [
        Document(_unique(s.name[:480], names), s.text, s.name, s.kind, looks_like_transcript(s.text),
                 {**{k: v for k, v in s.variables.items() if v is not None}, GUID_KEY: s.guid})
        for s in qp.sources
    ]
    rows: list[DocumentRow] = []
    counted = budget.counting(count_tokens)
    for document in documents:  # one at a time, so the time budget is checked between them
        budget.check()
        rows += store_documents(session, project=project, documents=[document], coder=owner_caller, data=data,
                                segmentation=segmentation, count_tokens=counted)

    decisions: list[Decision] = []
    codings = 0
    for source, doc_row in zip(qp.sources, rows, strict=False):
        budget.check()
        doc_row.exchange = {"created": _iso(source.created), "user": source.user}
        segments = list(session.execute(select(SegmentRow.id, SegmentRow.ordinal, SegmentRow.start, SegmentRow.end)
                                        .where(SegmentRow.document_id == doc_row.id).order_by(SegmentRow.start)))
        overlapping = _overlap_index(segments)
        for coding in source.codings:
            hit = overlapping(coding.start, coding.end)
            if not hit:
                report["warnings"].append(f"{source.name!r}: coding {coding.guid} ({coding.start}-{coding.end}) covers no segment's text; skipped")
                continue
            codings += 1
            path = code_paths[coding.code]
            memo = "\n\n".join(qp.notes[n].text for n in coding.notes if n in qp.notes) or None
            coder_id = coders.get(coding.user or "", owner.id)
            identity = {"coding": coding.guid, "selection": coding.selection, "created": _iso(coding.created),
                        "notes": [_note_identity(qp.notes[n]) for n in coding.notes if n in qp.notes]}
            decisions.extend(
                Decision(project_id=project.id, segment_id=s.id, coder_id=coder_id, verdict="add", code=path, effects={path: True},
                         codebook_id=book.id, memo=memo, span_start=coding.start, span_end=coding.end,
                         client_key=f"refi:{coding.guid}:{s.ordinal}", exchange=identity)
                for s in hit
            )
    session.add_all(decisions)
    memos = _import_memos(qp, code_paths, rows, coders, owner.id, project.id)
    session.add_all(memos)
    session.flush()
    report.update({
        "memos": len(memos), "project": project.id, "name": project.name, "origin": qp.origin, "documents": [r.name for r in rows],
        "codes": len(code_paths), "coders": tokens, "codings": codings, "decisions": len(decisions),
    })
    return project, owner, owner_token, report


def _overlap_index(segments: list[Any]) -> Callable[[int, int], list[Any]]:
    """For segments sorted by start: (start, end) -> the segments overlapping [start, end), found by
    bisection (a linear scan per coding is codings x segments)."""
    starts = [s.start for s in segments]
    reach = list(accumulate((s.end for s in segments), max))  # reach[i]: the furthest end among segments[:i + 1]

    def overlapping(start: int, end: int) -> list[Any]:
        lo, hi = bisect_right(reach, start), bisect_left(starts, end)
        return [s for s in segments[lo:hi] if s.end > start]

    return overlapping


def _import_memos(qp: QdaProject, code_paths: dict[str, str], rows: list[DocumentRow], coders: dict[str, int], owner_id: int,
                  project_id: int) -> list[Memo]:
    """Notes on the project, on codes and on sources become memos on the same things."""
    out = []

    def memo(note_guid: str, kind: str, target: str) -> None:
        note = qp.notes.get(note_guid)
        if note is not None:
            out.append(Memo(project_id=project_id, target_kind=kind, target=target, text=note.text,
                            coder_id=coders.get(note.user or "", owner_id),
                            exchange={"guid": note.guid, "name": note.name, "created": _iso(note.created)}))

    for guid in qp.note_refs:
        memo(guid, "project", "")
    for code in qp.all_codes():
        for guid in code.notes:
            memo(guid, "code", code_paths[code.guid])
    for source, row in zip(qp.sources, rows, strict=False):
        for guid in source.notes:
            memo(guid, "document", str(row.id))
    return out


def _provenance(d: Decision, coder: str, versions: dict[int, int]) -> str | None:
    if d.suggestion_id is None:
        return d.memo
    code = d.new_code if d.verdict == "replace" else d.code
    how = f"replaced the suggested code {d.code!r} with {code!r}" if d.verdict == "replace" else f"accepted code {code!r}"
    text = (f"Loupe suggestion {d.suggestion_id}: {coder} {how} on {d.created_at:%Y-%m-%d %H:%M} UTC (decision {d.id}). "
            f"Score {d.suggested_score:.3f}, model {d.suggested_model}, codebook version {versions.get(d.codebook_id, '?')}.")
    return f"{text}\n\n{d.memo}" if d.memo else text


def export_project(session: Session, *, project: Project, coder_ids: list[int] | None = None,
                   schema_dir: str | Path | None = None) -> tuple[bytes, dict[str, Any]]:
    """The project as a .qdpx archive, and a short report of what it holds. `coder_ids` limits
    the codings, memos and users to those coders (blind mode: a coder exports only their own)."""
    scope = f"project:{project.id}"
    book_row = current_codebook(session, project)
    codebook = as_codebook(book_row)
    codes, guids = codes_of(codebook, scope=scope)
    coders = {c.id: c for c in list_coders(session, project) if coder_ids is None or c.id in coder_ids}
    users = {cid: str((c.exchange or {}).get("guid") or stable_guid("user", c.name)) for cid, c in coders.items()}
    known = set(users.values())  # a GUID kept from a file is written only for a user the export lists

    def user_of(guid: Any) -> str | None:
        return guid if guid in known else None
    versions = {v.id: v.version for v in codebook_versions(session, project)}
    docs = {d.id: d for d in session.scalars(select(DocumentRow).where(DocumentRow.project_id == project.id).order_by(DocumentRow.id))}
    sources = {
        d.id: QdaSource(
            guid=str(d.attributes.get(GUID_KEY) or stable_guid("source", scope, d.id)), name=d.name, text=d.text, kind="txt",
            variables={k: v for k, v in d.attributes.items() if k != GUID_KEY and isinstance(v, (str, int, float, bool))},
            user=user_of(d.exchange.get("user")) if d.exchange is not None else users.get(d.created_by) if d.created_by else None,
            created=_time(d.exchange.get("created")) if d.exchange is not None else d.created_at,
        )
        for d in docs.values()
    }
    seg_doc = dict(session.execute(select(SegmentRow.id, SegmentRow.document_id).where(SegmentRow.project_id == project.id)).all())
    notes: dict[str, QdaNote] = {}
    seen: set[tuple[int, int, str, int, int]] = set()
    skipped: set[str] = set()
    applied = current_spans(session, project, set(coder_ids) if coder_ids is not None else None)
    # ordered by the code's GUID, not its Loupe path, so that an imported copy (whose paths are slugs
    # of the names) writes its notes in the same order
    for (segment_id, coder_id, code), spans in sorted(applied.items(), key=lambda kv: (kv[0][0], kv[0][1], guids.get(kv[0][2], ""), kv[0][2])):
        if code not in guids:
            skipped.add(code)
            continue
        source = sources[seg_doc[segment_id]]
        for start, end, d in spans:
            key = (seg_doc[segment_id], coder_id, code, start, end)
            if key in seen:
                continue
            seen.add(key)
            if d.exchange is not None:  # imported: the file's identities, notes and all
                coding = QdaCoding(guid=d.exchange["coding"], code=guids[code], start=start, end=end, selection=d.exchange["selection"],
                                   user=users[coder_id], created=_time(d.exchange.get("created")))
                for n in d.exchange.get("notes", []):
                    notes[n["guid"]] = QdaNote(n["guid"], n["text"], n["name"], user_of(n["user"]), _time(n["created"]))
                    coding.notes.append(n["guid"])
                source.codings.append(coding)
                continue
            selection = stable_guid("selection", source.guid, start, end, coders[coder_id].name)
            coding = QdaCoding(guid=stable_guid("coding", selection, guids[code]), code=guids[code], start=start, end=end,
                               selection=selection, user=users[coder_id], created=d.created_at)
            text = _provenance(d, coders[coder_id].name, versions)
            if text:
                note = QdaNote(stable_guid("note", coding.guid), text, f"Loupe: {code}", users[coder_id], d.created_at)
                notes[note.guid] = note
                coding.notes.append(note.guid)
            source.codings.append(coding)
    qp = QdaProject(
        name=project.name, origin=f"Loupe {VERSION}", description=project.description,
        users=[QdaUser(users[c], coders[c].name) for c in coders], codes=codes, sources=list(sources.values()),
        notes=notes, created=_time(project.exchange.get("created")) if project.exchange is not None else project.created_at,
        folder=str((project.exchange or {}).get("folder") or "sources"),
        variable_guids=dict((project.exchange or {}).get("variables") or {}),
    )
    code_nodes = {c.guid: c for top in codes for c in top.walk()}
    memos = select(Memo).where(Memo.project_id == project.id).order_by(Memo.id)
    if coder_ids is not None:  # blind mode: the caller's own memos only
        memos = memos.where(Memo.coder_id.in_(coder_ids))
    for m in session.scalars(memos):  # memos go with the project
        if m.exchange is not None:
            note = QdaNote(m.exchange["guid"], m.text, m.exchange["name"], users.get(m.coder_id or -1), _time(m.exchange["created"]))
        else:
            note = QdaNote(stable_guid("memo", scope, m.id), m.text, f"Memo on {m.target_kind} {m.target}".strip(), users.get(m.coder_id or -1), m.created_at)
        notes[note.guid] = note
        if m.target_kind == "code" and m.target in guids:
            code_nodes[guids[m.target]].notes.append(note.guid)
        elif m.target_kind == "document" and m.target.isdigit() and int(m.target) in sources:
            sources[int(m.target)].notes.append(note.guid)
        else:
            qp.note_refs.append(note.guid)
    data, check = write_qdpx(qp, schema_dir=schema_dir or CHECKOUT_SCHEMA_DIR)
    report = {
        "sources": len(sources), "codes": len(guids), "users": len(coders), "codings": sum(len(s.codings) for s in sources.values()),
        "notes": len(notes), "codebook_version": book_row.version, "validation": check.as_dict(),
        "skipped_codes": sorted(skipped),
    }
    return data, report


def import_codebook(session: Session, *, project: Project, coder: Caller | None, data: bytes, name: str | None = None,
                    schema_dir: str | Path | None = None) -> tuple[CodebookVersion, dict[str, Any]]:
    """A .qdc codebook as the project's next codebook version."""
    codes, check = read_qdc(data, schema_dir=schema_dir or CHECKOUT_SCHEMA_DIR)
    doc, paths = codebook_document(codes, name=name or current_codebook(session, project).name)
    row = add_codebook_version(session, project=project, data=doc, coder=coder)
    return row, {"codes": len(paths), "validation": check.as_dict()}


def export_codebook(session: Session, *, project: Project, version: int | None = None,
                    schema_dir: str | Path | None = None) -> tuple[bytes, dict[str, Any]]:
    """A codebook version (default: the current one) as a .qdc file, and a short report."""
    row = current_codebook(session, project) if version is None else get_codebook_version(session, project, version)
    codes, guids = codes_of(as_codebook(row), scope=f"project:{project.id}")
    data, check = write_qdc(codes, origin=f"Loupe {VERSION}", schema_dir=schema_dir or CHECKOUT_SCHEMA_DIR)
    return data, {"codes": len(guids), "version": row.version, "validation": check.as_dict()}
