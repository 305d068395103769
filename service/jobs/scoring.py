"""Long work as jobs: suggest (score a project's segments) and retrain (learn from decisions, then
score again). A job row records status, progress, counts and errors; the runner is one thread in
the server process.

A job is safe to re-run after a crash: segment vectors are committed chunk by chunk (a restarted
job encodes only what is missing, and the embedding cache makes even that cheap), suggestions are
upserted on (segment, codebook, code), and a job found "running" at start-up is queued again."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from models.base import Encoded, Segment, Span
from models.classifiers.learned import (
    HeadConfig,
    LearnedHead,
    ledger_decisions,
    segment_features,
)
from models.classifiers.review import rank_pairs, segment_ranks
from service.codebooks.versions import as_codebook, current_codebook
from service.pipeline import Pipeline
from service.storage.db import Database
from service.storage.tables import (
    CodebookVersion,
    Decision,
    Job,
    Project,
    SegmentRow,
    SegmentVector,
    Suggestion,
)


@dataclass
class _Segs:
    ids: np.ndarray
    segments: list[Segment]
    doc_ids: list[int]
    vectors: np.ndarray
    skip: np.ndarray  # bool: not data (models.base.Segment.role), or a skipped speaker: no proposals
    counts: dict = field(default_factory=dict)


def _segment(row) -> Segment:
    return Segment(str(row.id), str(row.document_id), row.ordinal, row.start, row.end, row.text, row.speaker,
                   tuple(Span(a, b) for a, b in row.sentences))


class JobRun:
    """One job's work; see the module docstring."""

    def __init__(self, db: Database, pipeline: Pipeline, job_id: int, chunk: int = 256) -> None:
        self.db, self.pipeline, self.job_id, self.chunk = db, pipeline, job_id, chunk

    def _progress(self, done: int | None = None, total: int | None = None, **counts: object) -> None:
        with self.db.write() as s:
            job = s.get_one(Job, self.job_id)
            if done is not None:
                job.done = done
            if total is not None:
                job.total = total
            if counts:
                job.counts = {**job.counts, **counts}

    def run(self) -> None:
        with self.db.read() as s:
            job = s.get_one(Job, self.job_id)
            project = s.get_one(Project, job.project_id)
            book = current_codebook(s, project)
            rows = s.execute(
                select(SegmentRow.id, SegmentRow.document_id, SegmentRow.ordinal, SegmentRow.start, SegmentRow.end,
                       SegmentRow.text, SegmentRow.speaker, SegmentRow.sentences, SegmentRow.role, SegmentVector.model.label("vector_model"))
                .outerjoin(SegmentVector, SegmentVector.segment_id == SegmentRow.id)
                .where(SegmentRow.project_id == project.id).order_by(SegmentRow.document_id, SegmentRow.ordinal)
            ).all()
            entries = list(s.execute(select(Decision.segment_id, Decision.effects).where(Decision.project_id == project.id).order_by(Decision.id)))
        codebook = as_codebook(book)
        classifier = self.pipeline.classifier(codebook, project.threshold)
        skip_names = {n.lower() for n in self.pipeline.settings.skip_speakers}
        n = len(rows)
        self._progress(done=0, total=2 * n if entries else n, segments=n, codebook_version=book.version)
        segs = _Segs(
            ids=np.array([r.id for r in rows], dtype=np.int64), segments=[_segment(r) for r in rows],
            doc_ids=[r.document_id for r in rows], vectors=np.zeros((n, self.pipeline.embedder.dim), np.float32),
            # not data (a header line, an interviewer's turn) or a skipped speaker: context, no proposals
            skip=np.array([r.role != "data" or (bool(r.speaker) and r.speaker.lower() in skip_names) for r in rows], dtype=bool),
        )
        prior = np.zeros((n, len(classifier.codes)), np.float32)
        model_name = classifier.model_name
        stats = {"new": 0, "updated": 0}
        for lo in range(0, n, self.chunk):  # pass 1: vectors (stored when missing) and zero-shot scores
            hi = min(n, lo + self.chunk)
            encoded = self._encode(segs, lo, hi, [r.vector_model for r in rows[lo:hi]])
            prior[lo:hi] = classifier.score(encoded, segs.segments[lo:hi])  # segments: exclude-named phrases are neutralised
            if not entries:
                self._store(segs, lo, hi, encoded, prior[lo:hi], classifier, book, model_name, stats)
            self._progress(done=hi)
        proba = prior
        if entries:
            proba, model_name, used = self._learn(segs, entries, prior, classifier.codes, codebook)
            self._progress(decisions_used=used, model=model_name)
            for lo in range(0, n, self.chunk):  # pass 2: proposals from the learned scores
                hi = min(n, lo + self.chunk)
                encoded = self.pipeline.embedder.encode_segments([s.text for s in segs.segments[lo:hi]], [s.sentences for s in segs.segments[lo:hi]])
                self._store(segs, lo, hi, encoded, proba[lo:hi], classifier, book, model_name, stats)
                self._progress(done=n + hi)
        from service.jobs.llm_rerank import rerank

        counts = rerank(self.db, self.pipeline, codebook_id=book.id, codebook=codebook, segment_ids=segs.ids, segments=segs.segments,
                        progress=lambda **c: self._progress(**c))
        self._prioritise(project, book, segs, classifier.codes, proba if codebook.exclusive else None)
        self._progress(model=model_name, suggestions_new=stats["new"], suggestions_updated=stats["updated"], **counts)

    def _encode(self, segs: _Segs, lo: int, hi: int, stored_model: list[str | None]) -> Encoded:
        chunk = segs.segments[lo:hi]
        encoded: Encoded = self.pipeline.embedder.encode_segments([s.text for s in chunk], [s.sentences for s in chunk])
        segs.vectors[lo:hi] = encoded.vectors
        model_id = self.pipeline.model_id
        changed = [{"segment_id": int(segs.ids[lo + k]), "vector": encoded.vectors[k].tobytes(), "model": model_id}
                   for k, m in enumerate(stored_model) if m != model_id]
        if changed:
            with self.db.write() as s:  # replace vectors made by another model
                s.execute(delete(SegmentVector).where(SegmentVector.segment_id.in_([c["segment_id"] for c in changed])))
                s.execute(insert(SegmentVector), changed)
        return encoded

    def _learn(self, segs: _Segs, entries: list, prior: np.ndarray, codes: list[str], codebook) -> tuple[np.ndarray, str, int]:
        """Fit the head on every coder's latest decision per (segment, code); returns (proba, model name, labels used).

        Features: context and words (segment_features); an exclusive codebook gets the multinomial head.
        """
        labels = ledger_decisions(entries, {int(i): k for k, i in enumerate(segs.ids)}, codes)
        features = segment_features(segs.vectors, segs.doc_ids, [s.ordinal for s in segs.segments], [s.text for s in segs.segments])
        config = HeadConfig(C=1.0, exclusive=True, seed=0) if codebook.exclusive else HeadConfig(seed=0)
        head = LearnedHead(codes, config).fit(features, labels, prior)
        kind = "learned-exclusive" if codebook.exclusive else "learned-head"
        return head.predict_proba(features, prior).astype(np.float32), f"{kind}:{codebook.scoring_fingerprint}:{len(labels)}", len(labels)

    def _store(self, segs: _Segs, lo: int, hi: int, encoded: Encoded, scores: np.ndarray, classifier, book: CodebookVersion, model: str, stats: dict) -> None:
        """Upsert the chunk's proposals; existing suggestions not proposed again get the new score."""
        keep = [k for k in range(hi - lo) if not segs.skip[lo + k]]
        if not keep:
            return
        chunk = [segs.segments[lo + k] for k in keep]
        sub = Encoded(encoded.vectors[keep], [encoded.sentence_vectors[k] for k in keep])
        proposals = classifier.propose_scores(chunk, sub, scores[keep])
        col = {c: j for j, c in enumerate(classifier.codes)}
        with self.db.write() as s:
            ids = [int(seg.id) for seg in chunk]
            existing = {(x.segment_id, x.code): x for x in s.scalars(
                select(Suggestion).where(Suggestion.codebook_id == book.id, Suggestion.segment_id.in_(ids)))}
            for seg, props in zip(chunk, proposals, strict=False):
                sid = int(seg.id)
                for p in props:
                    ev = p.evidence
                    evidence = {"sentence": ev.sentence, "start": ev.start, "end": ev.end, "matched": ev.matched,
                                "matched_kind": ev.matched_kind, "similarity": round(ev.similarity, 4)}
                    row = existing.pop((sid, p.code), None)
                    if row is None:
                        s.add(Suggestion(project_id=book.project_id, segment_id=sid, document_id=int(seg.document_id), codebook_id=book.id,
                                         code=p.code, score=float(p.score), model=model, evidence=evidence, job_id=self.job_id))
                        stats["new"] += 1
                    else:
                        row.score, row.model, row.evidence, row.job_id = float(p.score), model, evidence, self.job_id
                        stats["updated"] += 1
            row_of = {sid: k for sid, k in zip(ids, keep, strict=False)}
            for (sid, code), row in existing.items():
                if code in col:
                    row.score, row.model, row.job_id = float(scores[row_of[sid], col[code]]), model, self.job_id
                    stats["updated"] += 1

    def _prioritise(self, project: Project, book: CodebookVersion, segs: _Segs, codes: list[str], exclusive: np.ndarray | None) -> None:
        """Store each suggestion's review rank. exclusive: the segments' code probabilities when the
        codebook's codes exclude each other; segments are then ranked as a whole (segment_ranks)."""
        with self.db.read() as s:
            rows = s.execute(select(Suggestion.id, Suggestion.segment_id, Suggestion.code, Suggestion.score)
                             .where(Suggestion.codebook_id == book.id).order_by(Suggestion.id)).all()
            per_code = dict(s.execute(select(Decision.code, func.count()).where(Decision.project_id == project.id).group_by(Decision.code)).all())
        if not rows:
            return
        row_of = {int(i): k for k, i in enumerate(segs.ids)}
        code_ix = {c: j for j, c in enumerate(codes)}
        keep = [r for r in rows if r.segment_id in row_of]
        if exclusive is not None:
            ranks = segment_ranks(exclusive, segs.vectors, np.array([row_of[r.segment_id] for r in keep]),
                                  np.array([r.score for r in keep]), batch=project.retrain_every or 50, seed=self.job_id)
        else:
            ranks = rank_pairs(
                np.array([r.score for r in keep]), np.array([code_ix.get(r.code, -1) for r in keep]),
                segs.vectors[[row_of[r.segment_id] for r in keep]], mode=project.queue_mode,  # type: ignore[arg-type]  # a str column; the project schema admits only rank_pairs' modes
                decisions_per_code={code_ix[c]: int(v) for c, v in per_code.items() if c in code_ix},
            )
        with self.db.write() as s:
            s.execute(update(Suggestion), [{"id": r.id, "priority": float(p)} for r, p in zip(keep, ranks, strict=False)])
