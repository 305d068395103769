"""What the ledger adds up to: agreement between coders (and the model).

Agreement reads decisions, never suggestions, unless the model is compared as a coder. A coder's
value for (segment, code) is their current coding of it when they have an entry touching that code,
and missing otherwise: in a review, a code nobody asked a coder about is not a "no". The model's
value is defined for every segment it scored: 1 when it suggested the code at or above the
project's threshold, else 0. Between coders, agreement rests on the segments two or more coders
decided; the model is compared with each coder on the segments that coder decided. In a blind
project only the owner sees agreement between coders (`agreement_for`).

The table is built by eval.codings.build_table from decided codings (unit = the segment id as text,
value 1 applied / 0 not), the very records export/codings writes, so `loupe agree` on that export
gives the same values and, for the same seed and number of resamples, the same intervals. Every
segment a coder decided is kept: one coder's codings carry no agreement but enter Fleiss' and
Gwet's chance terms, as in Gwet (2014) and irrCAC."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.agreement import DISTANCES, Distance, Weights
from eval.agreement_small import MIN_MINORITY, MIN_UNITS
from eval.codings import Coding, CodingTable, build_table, per_code
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


def _decided(state: dict[tuple[int, int], dict[str, bool]], names: dict[int, str]) -> list[Coding]:
    return [Coding(str(seg), names[who], code, value=applied) for (seg, who), coding in state.items() for code, applied in coding.items()]


def _model_codings(session: Session, *, project: Project, book_id: int, units: list[int], codes: list[str]) -> list[Coding]:
    """The model as a coder: every code decided on every scored segment (1 at or above the threshold)."""
    if not units:
        return []
    scored: set[int] = set()
    suggested: set[tuple[int, str]] = set()
    for lo in range(0, len(units), 5000):  # bounded IN lists
        chunk = units[lo:lo + 5000]
        scored |= set(session.scalars(select(SegmentVector.segment_id).where(SegmentVector.segment_id.in_(chunk))))
        suggested |= {(seg, code) for seg, code in session.execute(select(Suggestion.segment_id, Suggestion.code).where(
            Suggestion.codebook_id == book_id, Suggestion.segment_id.in_(chunk), Suggestion.score >= project.threshold))}
    return [Coding(str(seg), MODEL, code, value=(seg, code) in suggested) for seg in sorted(scored) for code in codes]


def _ordered(result: dict[str, dict[str, Any]], codes: list[str]) -> dict[str, dict[str, Any]]:
    """Codes in codebook order, then the summaries."""
    return {c: result[c] for c in codes if c in result} | {k: v for k, v in result.items() if k not in codes}


def agreement(session: Session, *, project: Project, metrics: tuple[str, ...] = DEFAULT_METRICS, n_boot: int = 500, seed: int = 0,
              segments: AbstractSet[int] | None = None, weights: Weights = None, weight_distance: Distance = "index") -> dict[str, Any]:
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
    table = build_table(_decided(state, coders) + _model_codings(session, project=project, book_id=book.id, units=units, codes=codes))
    coded = np.asarray((table.presence >= 0).any(axis=2))  # (units, coders): the coder decided something on the unit
    opts: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "weights": weights, "distance": weight_distance}
    humans_ix = [table.coders.index(h) for h in humans]
    shared = int((coded[:, humans_ix].sum(axis=1) >= 2).sum()) if humans_ix else 0
    between = _as_dicts(per_code(table, metrics, coders=humans, **opts)) if len(humans) >= 2 else {}
    model = {}
    for h in humans:
        if MODEL in table.coders:
            rows = np.flatnonzero(coded[:, table.coders.index(h)] & coded[:, table.coders.index(MODEL)])
            sub = CodingTable([table.units[i] for i in rows], table.coders, table.codes, table.presence[rows])
        else:  # nothing scored yet: every value undefined, with its note
            sub = CodingTable([], [MODEL, h], table.codes, np.full((0, 2, len(table.codes)), -1, dtype=np.int8))
        model[h] = _ordered(_as_dicts(per_code(sub, metrics, coders=[MODEL, h], **opts)), codes)
    return {
        "units": len(units),
        "units_coded_by_two_or_more": shared,
        "coders": humans,
        "codes": codes,
        "codebook_version": book.version,
        "metrics": list(metrics),
        "weights": weights,
        "weight_distance": weight_distance,
        "small_n_rule": {"min_units": MIN_UNITS, "min_minority": MIN_MINORITY},
        "between_coders": _ordered(between, codes),
        "model_vs_coder": model,
        "notes": [
            "a coder's value for (segment, code) is missing unless they decided it; the model's is defined for every scored segment",
            "(mean over codes) averages the per-code values; (pooled) treats every (segment, code) decision as one unit",
            f"small_n: fewer than {MIN_UNITS} pairable units, or fewer than {MIN_MINORITY} pairable values outside the most "
            "frequent category; such a value's interval is the wider of an analytic and a Wilson interval, not the bootstrap",
        ],
    }


def agreement_for(session: Session, *, project: Project, coder: Caller, metrics: list[str] | None = None, n_boot: int = 200,
                  attribute: list[str] | None = None, weights: Weights = None, weight_distance: Distance = "index",
                  seed: int = 0) -> dict[str, Any]:
    """agreement as `coder` may ask for it: refused (403) to a coder of a blind project; `metrics`
    checked against eval.intervals.METRICS (default: DEFAULT_METRICS); `attribute` filters
    (document:NAME=VALUE, speaker:NAME=VALUE) keep the segments that match."""
    require_unblinded(project, coder, "agreement between coders")
    chosen = tuple(metrics) if metrics else DEFAULT_METRICS
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise Invalid(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    if weights not in (None, "linear", "quadratic") or weight_distance not in DISTANCES:
        raise Invalid("weights are linear or quadratic, measured by index or value distance")
    return agreement(session, project=project, metrics=chosen, n_boot=n_boot, seed=seed, weights=weights, weight_distance=weight_distance,
                     segments=scope_of(session, project=project, attribute=attribute))
