"""Themes, and consolidating codes: merge, split and move, as new codebook versions.

Restructuring never edits the ledger. It appends one `remap` entry per (segment, coder) whose
current coding carries a changed code: effects {old: false, new: true}, under the new codebook
version, with a memo naming the operation. The entries made under the old code stay as they
were, so the ledger still shows what was decided then, and the current codings follow the new
codebook. Splitting by history sends each coding back to the code it had before the merge that
made the code being split.

`merge_codes`, `split_code` and `move_code` are the use-cases: each makes the new version and its
remap entries in one transaction, queues a suggest job under the new version in the same
transaction, and wakes the job runner once it has committed."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.codebook import children_of, code_entry, entry_paths
from models.exchange.qda import slug
from service.codebooks.versions import add_codebook_version, current_codebook
from service.errors import Conflict, Invalid, NotFound
from service.jobs.queue import Notifier, enqueue
from service.projects.access import Caller
from service.review.ledger import current_codings
from service.schemas.themes import Restructured, SplitDone
from service.storage.db import Database
from service.storage.tables import CodebookVersion, Decision, Project


# -- the codebook tree --------------------------------------------------------------------------
def _find(content: dict, path: str) -> tuple[list[dict], dict]:
    found = code_entry(content, path)
    if found is None:
        raise NotFound("code", path)
    return found


def _siblings(content: dict, parent: str | None) -> list[dict]:
    items = children_of(content, parent)
    if items is None:
        raise NotFound("code", parent)
    return items


def _new_code(spec: dict[str, Any], siblings: list[dict]) -> dict[str, Any]:
    name = str(spec.get("name") or "").strip()
    if not name:
        raise Invalid("a new code needs a name")
    ident = spec.get("id") or slug(name)
    if any(c["id"] == ident for c in siblings):
        raise Conflict(f"a code {ident!r} already exists there")
    return {"id": ident, "name": name, "definition": str(spec.get("definition") or name).strip()}


# -- re-mapping the ledger ------------------------------------------------------------------------
def _remap(session: Session, *, project: Project, coder: Caller, book: CodebookVersion, mapping, note: str,
           codings: dict | None = None) -> int:
    """Append remap entries: for each (segment, coder) currently carrying code `old`, move it to
    mapping(segment, coder, old) (None: leave it). `codings`: the current codings, when the caller
    has them already. Returns the number of entries."""
    made = 0
    for (sid, who), state in sorted((codings if codings is not None else current_codings(session, project=project)).items()):
        for old, on in sorted(state.items()):
            new = mapping(sid, who, old) if on else None
            if new is None or new == old:
                continue
            effects = {old: False, new: True}
            if state.get(new):  # already carries the target: only the old one goes
                effects = {old: False}
            session.add(Decision(project_id=project.id, segment_id=sid, coder_id=who, verdict="remap", code=old, new_code=new,
                                 effects=effects, codebook_id=book.id, memo=f"{note} (codebook version {book.version}; by {coder.name})"))
            made += 1
    session.flush()
    return made


def merge(session: Session, *, project: Project, coder: Caller, codes: list[str], into: dict[str, Any]) -> tuple[CodebookVersion, str, int]:
    """Merge `codes` into a new code (`into`: name, definition, parent) or into an existing one
    (`into`: {"code": path}). Returns (new version, target path, remap entries)."""
    if len(codes) < 2 and "code" not in into:
        raise Invalid("merge at least two codes, or one code into an existing one")
    content = copy.deepcopy(current_codebook(session, project).content)
    removed: dict[str, str] = {}
    if "code" in into:
        target = str(into["code"])
        _find(content, target)
    else:
        parent = into.get("parent") or None
        created = _new_code(into, _siblings(content, parent))
        target = f"{parent}/{created['id']}" if parent else created["id"]
    examples: list[str] = []
    for path in codes:
        if path == target or target.startswith(path + "/"):
            raise Invalid(f"cannot merge {path!r} into itself or into one of its sub-codes")
        holder, node = _find(content, path)
        examples += node.get("examples", [])
        for p in entry_paths(node, path.rpartition("/")[0] or None):
            removed[p] = target
        holder.remove(node)
    if "code" in into:
        _, kept = _find(content, target)
        kept["examples"] = list(dict.fromkeys(kept.get("examples", []) + examples))
    else:
        if examples:
            created["examples"] = list(dict.fromkeys(examples))
        _siblings(content, into.get("parent") or None).append(created)
    book = add_codebook_version(session, project=project, data=content, coder=coder)
    made = _remap(session, project=project, coder=coder, book=book, mapping=lambda s, w, old: removed.get(old),
                  note=f"merge {', '.join(codes)} -> {target}")
    return book, target, made


def split(session: Session, *, project: Project, coder: Caller, code: str, into: list[dict[str, Any]],
          assign: dict[int, str] | str = "history") -> tuple[CodebookVersion, list[str], int]:
    """Split `code` into new codes beside it. `assign` says where each coding goes: {segment id:
    new code path}, or "history": back to the code it carried before the merge that made `code`
    (codings with no such history stay on `code`, which is kept while any remain, or while it has
    sub-codes)."""
    content = copy.deepcopy(current_codebook(session, project).content)
    holder, node = _find(content, code)
    parent = code.rpartition("/")[0] or None
    paths = []
    for spec in into:
        new = _new_code(spec, holder)
        holder.append(new)
        paths.append(f"{parent}/{new['id']}" if parent else new["id"])
    if assign == "history":
        before: dict[tuple[int, int], str] = {}
        q = select(Decision).where(Decision.project_id == project.id, Decision.verdict == "remap", Decision.new_code == code).order_by(Decision.id)
        for d in session.scalars(q):
            before[(d.segment_id, d.coder_id)] = d.code
        by_name = {p.rpartition("/")[2]: p for p in paths}

        def mapping(sid: int, who: int, old: str) -> str | None:
            if old != code or (sid, who) not in before:
                return None
            prior = before[(sid, who)].rpartition("/")[2]
            return by_name.get(prior)
    elif isinstance(assign, dict):
        bad = [p for p in assign.values() if p not in paths]
        if bad:
            raise Invalid(f"assign names {bad[0]!r}, which is not one of the new codes {paths}")

        def mapping(sid: int, who: int, old: str) -> str | None:
            return assign.get(sid) if old == code else None
    else:
        raise Invalid('assign is "history" or {segment id: new code}')
    codings = current_codings(session, project=project)
    carrying = [(s, w) for (s, w), st in codings.items() if st.get(code)]
    remaining = sum(1 for s, w in carrying if not mapping(s, w, code))
    if remaining == 0 and not node.get("children"):  # a code with sub-codes stays: they keep their codings
        holder.remove(node)
    book = add_codebook_version(session, project=project, data=content, coder=coder)
    made = _remap(session, project=project, coder=coder, book=book, mapping=mapping, note=f"split {code} -> {', '.join(paths)}", codings=codings)
    return book, paths, made


def move(session: Session, *, project: Project, coder: Caller, code: str, parent: str | None) -> tuple[CodebookVersion, str, int]:
    """Move a code (with its sub-codes) under another parent (None: the top level)."""
    content = copy.deepcopy(current_codebook(session, project).content)
    holder, node = _find(content, code)
    if parent and (parent == code or parent.startswith(code + "/")):
        raise Invalid("a code cannot move under itself")
    holder.remove(node)
    siblings = _siblings(content, parent)
    if any(c["id"] == node["id"] for c in siblings):
        raise Conflict(f"{parent or 'the top level'} already has a code {node['id']!r}")
    siblings.append(node)
    new_path = f"{parent}/{node['id']}" if parent else node["id"]
    renamed = {old: new_path + old[len(code):] for old in entry_paths(node, code.rpartition("/")[0] or None)}
    book = add_codebook_version(session, project=project, data=content, coder=coder)
    made = _remap(session, project=project, coder=coder, book=book, mapping=lambda s, w, old: renamed.get(old), note=f"move {code} -> {new_path}")
    return book, new_path, made


# -- the use-cases: one transaction each, then the suggest job under the new version ---------------
def merge_codes(db: Database, runner: Notifier, *, project: Project, coder: Caller, codes: list[str], into: dict[str, Any]) -> Restructured:
    with db.write() as session:
        book, target, made = merge(session, project=project, coder=coder, codes=codes, into=into)
        enqueue(session, project=project, kind="suggest", coder=coder)
    runner.notify()
    return Restructured(codebook_version=book.version, codebook_id=book.id, code=target, remapped=made)


def split_code(db: Database, runner: Notifier, *, project: Project, coder: Caller, code: str, into: list[dict[str, Any]],
               assign: dict[int, str] | str = "history") -> SplitDone:
    with db.write() as session:
        book, paths, made = split(session, project=project, coder=coder, code=code, into=into, assign=assign)
        enqueue(session, project=project, kind="suggest", coder=coder)
    runner.notify()
    return SplitDone(codebook_version=book.version, codebook_id=book.id, codes=paths, remapped=made)


def move_code(db: Database, runner: Notifier, *, project: Project, coder: Caller, code: str, parent: str | None) -> Restructured:
    with db.write() as session:
        book, path, made = move(session, project=project, coder=coder, code=code, parent=parent)
        enqueue(session, project=project, kind="suggest", coder=coder)
    runner.notify()
    return Restructured(codebook_version=book.version, codebook_id=book.id, code=path, remapped=made)
