"""The LLM verification pass of a suggest job (when an LLM backend is configured).

After the embedding scores are stored, the suggestions chosen by LOUPE_LLM_RERANK (uncertain
ones by default) are shown to the LLM with their context; its P(applies) is blended into the
score (LOUPE_LLM_WEIGHT), and the suggestion's evidence records the LLM's answer, the prior
score and the full provenance (model, backend, prompt template and hash, parameters, time).
An LLM failure leaves the embedding suggestions as they are and is reported in the job's counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from sqlalchemy import select, update

from models.base import Segment
from models.codebook import Codebook
from models.llm.coder import combine, select_for_rerank
from models.llm.errors import LLMError
from models.llm.prompts import Passage
from service.pipeline import Pipeline
from service.storage.db import Database
from service.storage.tables import Suggestion

log = logging.getLogger("loupe.llm")


def passages_in_context(texts: list[str], documents: list[str], speakers: list[str | None]) -> list[Passage]:
    """Each segment with the text of its neighbours in the same document (segments in document order)."""
    out = []
    for k, text in enumerate(texts):
        before = texts[k - 1] if k > 0 and documents[k - 1] == documents[k] else ""
        after = texts[k + 1] if k + 1 < len(texts) and documents[k + 1] == documents[k] else ""
        out.append(Passage(text, speakers[k], before, after))
    return out


def rerank(db: Database, pipeline: Pipeline, *, codebook_id: int, codebook: Codebook, segment_ids: np.ndarray, segments: list[Segment],
           progress: Callable[..., None], chunk: int = 64) -> dict:
    settings = pipeline.settings
    if settings.llm_backend == "none" or settings.llm_rerank == "off":
        return {}
    try:
        coder = pipeline.llm_coder(codebook)
    except LLMError as exc:
        return {"llm_error": str(exc)}
    with db.read() as s:
        rows = s.execute(select(Suggestion.id, Suggestion.segment_id, Suggestion.code, Suggestion.score, Suggestion.model, Suggestion.evidence)
                         .where(Suggestion.codebook_id == codebook_id).order_by(Suggestion.id)).all()
    row_of = {int(sid): k for k, sid in enumerate(segment_ids)}
    rows = [r for r in rows if r.segment_id in row_of and r.code in codebook.codes]
    chosen = [rows[i] for i in select_for_rerank(np.array([r.score for r in rows]), settings.llm_rerank, k=settings.llm_rerank_k)]
    passages = passages_in_context([s.text for s in segments], [s.document_id for s in segments], [s.speaker for s in segments])
    done, cached = 0, 0
    progress(llm_total=len(chosen), llm_done=0)
    try:
        for lo in range(0, len(chosen), chunk):
            part = chosen[lo:lo + chunk]
            items = [(passages[row_of[r.segment_id]], r.code) for r in part]
            checks = coder.verify(items)
            notes = coder.rationale(items) if settings.llm_rationales else [None] * len(part)
            updates = []
            for r, check, note in zip(part, checks, notes, strict=False):
                llm = {"p_applies": round(check.p_applies, 4), "prior_score": r.score, "weight": settings.llm_weight,
                       "provenance": check.provenance.as_dict()}
                if note is not None:
                    llm["rationale"], llm["rationale_provenance"] = note[0], note[1].as_dict()
                updates.append({"id": r.id, "score": round(combine(r.score, check.p_applies, settings.llm_weight), 6),
                                "model": f"{r.model.split('+llm:')[0]}+llm:{coder.backend.model_id}"[:200], "evidence": {**r.evidence, "llm": llm}})
                cached += check.provenance.cached
            with db.write() as s:
                s.execute(update(Suggestion), updates)
            done += len(part)
            progress(llm_done=done)
    except LLMError as exc:
        log.error("LLM rerank stopped: %s", exc)
        return {"llm_verified": done, "llm_cached": cached, "llm_error": str(exc)}
    return {"llm_verified": done, "llm_cached": cached, "llm_model": coder.backend.model_id}
