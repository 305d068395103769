"""Fine-tune a project's sentence encoder on its analysts' decisions (`loupe tune`).

The project's decided segments (every coder's latest decision per segment and code) become
labelled examples: a segment's label is the set of codes accepted on it, "none" when every
suggestion on it was rejected. A share of them (`holdout`) is kept out, whole documents at a time
where decisions span at least MIN_DOCUMENTS documents (segments of one document are alike, so a
document split across both halves flatters the tuned encoder), else single segments; the encoder is
fine-tuned on the rest (models.classifiers.finetune) and the learned head is trained on each
encoder's embeddings. Only when the tuned head beats the base head on the held-out decisions (a
lower log-loss, finetune.better_on_held_out) is an encoder saved: it is then tuned again on every
decided segment and written to `out`, a sentence-transformers folder to use as
LOUPE_EMBEDDER_MODEL. Nothing in the project changes; the comparison is written beside the model
as loupe-tune.json either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from models.base import LoupeError
from models.classifiers.finetune import (
    FineTuneConfig,
    better_on_held_out,
    encode,
    fine_tune,
    held_out_log_loss,
    load_trainable,
    macro_f1,
    planned_steps,
)
from models.classifiers.learned import (
    HeadConfig,
    LearnedHead,
    exclusive_labels,
    ledger_decisions,
    segment_features,
)
from models.classifiers.review import with_none
from service.codebooks.versions import as_codebook, current_codebook
from service.projects.access import get_project
from service.storage.db import Database
from service.storage.tables import Decision, SegmentRow

REPORT = "loupe-tune.json"
MIN_DOCUMENTS = 5  # documents with decisions, from which whole documents are held out


def hold_out(decided: np.ndarray, documents: list, share: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """(held-out rows, "document" or "segment"): about `share` of the decided rows, whole documents where
    they span MIN_DOCUMENTS documents (documents drawn at random until the share is reached, none that
    would take it past twice the share), else single segments."""
    size = max(1, int(round(share * len(decided))))
    by_doc: dict = {}
    for r in decided:
        by_doc.setdefault(documents[r], []).append(int(r))
    if len(by_doc) >= MIN_DOCUMENTS:
        docs = sorted(by_doc)
        held: list[int] = []
        for k in rng.permutation(len(docs)):
            if len(held) >= size:
                break
            if len(held) + len(by_doc[docs[k]]) <= 2 * size:  # a document too big to hold out is skipped
                held.extend(by_doc[docs[k]])
        if len(held) >= size / 2:  # else the decisions sit in a few large documents
            return np.sort(np.array(held, dtype=np.int64)), "document"
    return np.sort(rng.choice(decided, size=size, replace=False)), "segment"


def _decided(db: Database, project_id: int):
    with db.read() as s:
        project = get_project(s, project_id)
        codebook = as_codebook(current_codebook(s, project))
        rows = s.execute(select(SegmentRow.id, SegmentRow.document_id, SegmentRow.ordinal, SegmentRow.text)
                         .where(SegmentRow.project_id == project.id).order_by(SegmentRow.document_id, SegmentRow.ordinal)).all()
        entries = s.execute(select(Decision.segment_id, Decision.effects).where(Decision.project_id == project.id).order_by(Decision.id)).all()
    codes = list(codebook.codes)
    return codebook, rows, codes, ledger_decisions(entries, {int(r.id): k for k, r in enumerate(rows)}, codes)


def tune_project(db: Database, *, project_id: int, model: str, out: Path, config: FineTuneConfig = FineTuneConfig(),
                 holdout: float = 0.2, force: bool = False, device: str = "cpu", say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Fine-tune `model` (a local sentence-transformers folder) on the project's decisions; see module docstring.

    device: "cpu" or "cuda" (much faster; training stays fp32 there too).

    Returns the report (also written to out/loupe-tune.json). Raises LoupeError when the project
    has too few decided segments or labels to learn from.
    """
    codebook, rows, codes, labels = _decided(db, project_id)
    per_row = exclusive_labels(labels, codes)
    if len(per_row) < config.min_decisions:
        raise LoupeError(f"fine-tuning needs decisions on at least {config.min_decisions} segments; project {project_id} has {len(per_row)}")
    texts = [r.text for r in rows]
    doc_ids, ordinals = [r.document_id for r in rows], [r.ordinal for r in rows]
    decided = np.array(sorted(per_row), dtype=np.int64)
    rng = np.random.default_rng(config.seed)
    held, held_by = hold_out(decided, doc_ids, holdout, rng)
    fit_rows = np.setdiff1d(decided, held)
    held_set = set(held.tolist())
    fit_labels = [lab for lab in labels if lab.index not in held_set]
    none = len(codes)
    truth = np.array([per_row[r][0] if per_row[r] else none for r in held])
    prior = np.full((len(rows), len(codes)), 0.5)
    head_config = HeadConfig(C=1.0, exclusive=codebook.exclusive, calibrate=False, seed=config.seed)

    def held_out_scores(vectors: np.ndarray) -> np.ndarray:
        features = segment_features(vectors, doc_ids, ordinals, texts)
        head = LearnedHead(codes, head_config).fit(features, fit_labels, prior)
        return with_none(head.predict_proba(features[held], prior[held]))

    t0 = time.perf_counter()
    say(f"{len(decided)} decided segments: tuning on {len(fit_rows)}, comparing on {len(held)} held out"
        + (" (whole documents)" if held_by == "document" else ""))
    base = held_out_scores(encode(load_trainable(model, device), texts))
    tuned_model = fine_tune(load_trainable(model, device), [texts[i] for i in fit_rows], [per_row[i] for i in fit_rows], config)
    tuned = held_out_scores(encode(tuned_model, texts))
    better = better_on_held_out(base, tuned, truth)
    report: dict[str, Any] = {
        "project": project_id, "base_model": model, "codebook_exclusive": codebook.exclusive,
        "decided_segments": len(decided), "held_out": len(held), "held_out_by": held_by,
        "held_out_accuracy": {"base": float((np.argmax(base, 1) == truth).mean()), "tuned": float((np.argmax(tuned, 1) == truth).mean())},
        "held_out_macro_f1": {"base": macro_f1(base, truth), "tuned": macro_f1(tuned, truth)},
        "held_out_log_loss": {"base": held_out_log_loss(base, truth), "tuned": held_out_log_loss(tuned, truth)}, "better": better, "saved": False,
        "config": vars(config), "steps": planned_steps([per_row[i] for i in fit_rows], config), "device": device,
    }
    out.mkdir(parents=True, exist_ok=True)
    if better or force:
        say("tuned encoder is better on held-out decisions: tuning on all of them" if better else "saving although not better (--force)")
        final = fine_tune(load_trainable(model, device), [texts[i] for i in decided], [per_row[i] for i in decided], config)
        final.save(str(out))
        report["saved"] = True
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (out / REPORT).write_text(json.dumps(report, indent=2))
    return report
