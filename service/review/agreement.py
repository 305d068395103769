"""What the ledger adds up to: agreement between coders (and the model).

Agreement reads decisions, never suggestions, unless the model is compared as a coder. A coder's
value for (segment, code) is their current coding of it when they have an entry touching that code,
and missing otherwise: in a review, a code nobody asked a coder about is not a "no". The model's
value is defined for every segment it scored: 1 when it suggested the code at or above the
project's threshold, else 0. Between coders, agreement rests on the segments two or more coders
decided; the model is compared with each coder on the segments that coder decided. In a blind
project only the owner sees agreement between coders (`agreement_for`)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.codings import CodingTable, per_code
from eval.intervals import METRICS
from service.analysis.attributes import scope_of
from service.codebooks.versions import as_codebook, current_codebook
from service.errors import Invalid
from service.projects.access import Caller
from service.projects.manage import list_coders
from service.review.ledger import current_codings
from service.review.visibility import require_unblinded
from service.storage.tables import (
    Project,
    SegmentVector,
    Suggestion,
)

MODEL = "model"


DEFAULT_METRICS = ("percent", "cohen", "krippendorff", "gwet")


def _as_dicts(result: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {code: {m: e.as_dict() for m, e in ests.items()} for code, ests in result.items()}


def agreement(session: Session, *, project: Project, metrics: tuple[str, ...] = DEFAULT_METRICS, n_boot: int = 500, seed: int = 0,
              segments: AbstractSet[int] | None = None) -> dict[str, Any]:
    """Agreement per code and overall, between the human coders and between the model and each coder
    (on `segments` only, when given: attribute filters)."""
    coders = {c.id: c.name for c in list_coders(session, project)}
    state = current_codings(session, project=project)
    if segments is not None:
        state = {k: v for k, v in state.items() if k[0] in segments}
    book = current_codebook(session, project)
    codes = list(as_codebook(book).codes)
    codes += sorted({c for v in state.values() for c in v} - set(codes))
    units = sorted({seg for seg, _ in state})
    humans = sorted({coders[who] for _, who in state})
    names = humans + [MODEL]
    u_ix = {u: i for i, u in enumerate(units)}
    n_ix = {n: j for j, n in enumerate(names)}
    k_ix = {c: k for k, c in enumerate(codes)}
    presence = np.full((len(units), len(names), len(codes)), -1, dtype=np.int8)
    for (seg, who), coding in state.items():
        for code, applied in coding.items():
            presence[u_ix[seg], n_ix[coders[who]], k_ix[code]] = int(applied)
    if units:
        scored = set(session.scalars(select(SegmentVector.segment_id).where(SegmentVector.segment_id.in_(units))))
        for seg in scored:
            presence[u_ix[seg], n_ix[MODEL], :] = 0
        for seg, code in session.execute(
            select(Suggestion.segment_id, Suggestion.code).where(
                Suggestion.codebook_id == book.id, Suggestion.segment_id.in_(units), Suggestion.score >= project.threshold)
        ):
            if seg in scored and code in k_ix:
                presence[u_ix[seg], n_ix[MODEL], k_ix[code]] = 1
    coded = np.asarray((presence >= 0).any(axis=2))  # (units, coders): the coder decided something on the unit

    def table_for(rows: np.ndarray) -> CodingTable:
        """The table on these units only. Between coders: units two or more coders decided (a unit
        one coder decided shows no agreement; left in, it would still enter Fleiss' and Gwet's
        chance terms, and cost bootstrap time). Model vs a coder: the units that coder decided."""
        return CodingTable([units[i] for i in rows], names, codes, presence[rows])

    humans_ix = [n_ix[h] for h in humans]
    shared = np.flatnonzero(coded[:, humans_ix].sum(axis=1) >= 2)
    between = _as_dicts(per_code(table_for(shared), metrics, coders=humans, n_boot=n_boot, seed=seed)) if len(humans) >= 2 else {}
    model = {}
    for h in humans:
        rows = np.flatnonzero(coded[:, n_ix[h]] & coded[:, n_ix[MODEL]])
        model[h] = _as_dicts(per_code(table_for(rows), metrics, coders=[MODEL, h], n_boot=n_boot, seed=seed))
    return {
        "units": len(units),
        "units_coded_by_two_or_more": int(len(shared)),
        "coders": humans,
        "codes": codes,
        "codebook_version": book.version,
        "metrics": list(metrics),
        "between_coders": between,
        "model_vs_coder": model,
        "notes": [
            "a coder's value for (segment, code) is missing unless they decided it; the model's is defined for every scored segment",
            "(mean over codes) averages the per-code values; (pooled) treats every (segment, code) decision as one unit",
        ],
    }


def agreement_for(session: Session, *, project: Project, coder: Caller, metrics: list[str] | None = None, n_boot: int = 200,
                  attribute: list[str] | None = None) -> dict[str, Any]:
    """agreement as `coder` may ask for it: refused (403) to a coder of a blind project; `metrics`
    checked against eval.intervals.METRICS (default: DEFAULT_METRICS); `attribute` filters
    (document:NAME=VALUE, speaker:NAME=VALUE) keep the segments that match."""
    require_unblinded(project, coder, "agreement between coders")
    chosen = tuple(metrics) if metrics else DEFAULT_METRICS
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise Invalid(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    return agreement(session, project=project, metrics=chosen, n_boot=n_boot, segments=scope_of(session, project=project, attribute=attribute))
