"""`loupe tune`: fine-tuning the encoder on a project's decisions, compared on held-out decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scripts.cli import app

ROLES = {
    "claim": ["We show that {t} improves {u}.", "Our results demonstrate that {t} reduces {u}.", "We find that {t} predicts {u}."],
    "method": ["We interviewed {n} practitioners about {t}.", "We analysed {n} repositories that use {t}.", "We surveyed {n} teams on {t}."],
}
TOPICS = ["code review", "pair programming", "continuous integration", "static analysis", "test automation", "refactoring",
          "technical debt", "requirements elicitation", "onboarding", "release planning"]
OUTCOMES = ["defects", "build time", "turnover", "rework", "latency", "cost"]


def _project(tmp_path, decided: int):  # type: ignore[no-untyped-def]
    """A SQLite project with an exclusive two-code codebook, one sentence per segment, `decided` of them coded."""
    from models.text.segment import SegmentationConfig
    from service.documents.store import store_documents, text_document
    from service.projects.access import Caller
    from service.projects.manage import create_project
    from service.review import ledger
    from service.settings import get_settings
    from service.storage.db import Database

    settings = get_settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database)
    db.migrate()
    book = {"name": "roles", "exclusive": True, "codes": [
        {"id": "claim", "name": "Claim", "definition": "A finding the authors report."},
        {"id": "method", "name": "Method", "definition": "How the study was done."}]}
    rng = np.random.default_rng(0)
    truth = []
    with db.write() as s:
        project, owner, _ = create_project(s, name="t", owner_name="lead", codebook=book)
        caller = Caller(owner.id, project.id, owner.name, owner.role)
        docs = []
        for d in range(40):
            lines = []
            for _ in range(4):
                role = str(rng.choice(list(ROLES)))
                lines.append(str(rng.choice(ROLES[role])).format(t=rng.choice(TOPICS), u=rng.choice(OUTCOMES), n=int(rng.integers(5, 90))))
                truth.append(role)
            docs.append(text_document(f"abstract{d}.txt", " ".join(lines)))
        store_documents(s, project=project, documents=docs, coder=caller, data=b"test", segmentation=SegmentationConfig(unit="sentence"))
        s.flush()
        from sqlalchemy import select

        from service.storage.tables import SegmentRow

        ids = list(s.scalars(select(SegmentRow.id).where(SegmentRow.project_id == project.id).order_by(SegmentRow.document_id, SegmentRow.ordinal)))
        assert len(ids) == len(truth)
        for sid, role in list(zip(ids, truth, strict=False))[:decided]:
            ledger.record(s, project=project, coder=caller, data=ledger.DecisionInput(verdict="add", segment_id=sid, code=role))
        pid = project.id
    db.dispose()
    return pid, settings


def test_tune_compares_on_held_out_decisions_and_saves_a_loadable_encoder(tmp_path, monkeypatch):
    pid, settings = _project(tmp_path, decided=120)
    monkeypatch.setenv("LOUPE_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["tune", "--project", str(pid), "--out", str(out), "--epochs", "2", "--force"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "loupe-tune.json").read_text())
    assert report["decided_segments"] == 120 and report["held_out"] == 24 and report["codebook_exclusive"]
    assert report["held_out_by"] == "document"  # 30 documents of 4 decided sentences: 6 held out whole
    assert report["saved"] and "Held-out decisions" in result.output
    assert set(report["held_out_macro_f1"]) == {"base", "tuned"}
    assert report["steps"] == 2 * 3  # --epochs 2: two passes over 96 segments in batches of 32
    # the saved folder is a model Loupe loads as its embedder
    from models.embedders.sentence_transformers import SentenceTransformerEmbedder

    tuned = SentenceTransformerEmbedder(str(out), threads=2)
    v = tuned.encode(["We show that refactoring reduces cost.", "We surveyed 12 teams on onboarding."])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)


def test_tune_refuses_too_few_decisions_and_keeps_the_project(tmp_path, monkeypatch):
    pid, settings = _project(tmp_path, decided=30)
    monkeypatch.setenv("LOUPE_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["tune", "--project", str(pid), "--out", str(out)])
    assert result.exit_code == 2
    assert "at least 100 segments" in result.output and "has 30" in result.output
    assert not (out / "config.json").exists()
    bad = CliRunner().invoke(app, ["tune", "--project", "999", "--out", str(out)])
    assert bad.exit_code == 2 and "999" in bad.output


def test_fine_tune_pulls_same_code_together_and_is_reproducible():
    from models.base import LoupeError
    from models.classifiers.finetune import (
        FineTuneConfig,
        encode,
        fine_tune,
        load_trainable,
    )
    from models.embedders.sentence_transformers import default_model_path

    rng = np.random.default_rng(1)
    texts, labels = [], []
    for role, patterns in ROLES.items():
        for _ in range(16):
            texts.append(str(rng.choice(patterns)).format(t=rng.choice(TOPICS), u=rng.choice(OUTCOMES), n=int(rng.integers(5, 90))))
            labels.append((role,))
    y = np.array([lab[0] == "claim" for lab in labels])

    def separation(v: np.ndarray) -> float:
        sim = v @ v.T
        same = sim[y[:, None] == y[None, :]].mean()
        return float(same - sim[y[:, None] != y[None, :]].mean())

    base = encode(load_trainable(str(default_model_path())), texts)
    config = FineTuneConfig(epochs=2, seed=3, batch_size=16)
    tuned = [encode(fine_tune(load_trainable(str(default_model_path())), texts, labels, config), texts) for _ in range(2)]
    assert separation(tuned[0]) > separation(base) + 0.05
    assert np.allclose(tuned[0], tuned[1], atol=1e-5)  # same seed, same model
    with pytest.raises(LoupeError, match="two labels"):
        fine_tune(load_trainable(str(default_model_path())), texts[:3], [("claim",)] * 3, config)


def test_training_length_is_counted_in_steps_with_at_least_one_pass():
    from models.classifiers.finetune import (
        FineTuneConfig,
        _batches,
        planned_steps,
        training_steps,
    )

    config = FineTuneConfig()  # 10 steps of 32 per label, at most 40
    assert [training_steps(n, config, labels=7) for n in (80, 200, 400, 5000)] == [40, 40, 40, 157]  # 5,000: one full pass
    assert [training_steps(n, config, labels=2) for n in (80, 200, 800)] == [20, 20, 25]  # a yes/no scheme: 20, or one pass
    assert training_steps(200, config, labels=3) == 30
    assert training_steps(200, FineTuneConfig(epochs=3), labels=7) == 21
    # only labels with two segments count (a lone one forms no triplet): 2 labels here, not 3
    assert planned_steps([("a",)] * 100 + [()] * 99 + [("b",)], config) == 20
    batches = list(_batches(65, 32, 7, np.random.default_rng(0)))  # 65 = 32 + 32 + 1: the lone one is skipped
    assert len(batches) == 7 and all(len(b) == 32 for b in batches)
    first_pass = np.concatenate(batches[:2])
    assert len(set(first_pass.tolist())) == 64  # within a pass no segment repeats


def test_held_out_decisions_keep_documents_whole_when_there_are_enough():
    from service.jobs.tuning import hold_out

    documents = [f"d{i // 4}" for i in range(120)]  # 30 documents of 4 segments
    decided = np.arange(100)  # the last 5 documents undecided
    held, by = hold_out(decided, documents, 0.2, np.random.default_rng(0))
    assert by == "document" and len(held) == 20 and set(held) <= set(decided.tolist())
    held_docs = {documents[r] for r in held}
    assert all(documents[r] not in held_docs for r in np.setdiff1d(decided, held))  # no document on both sides
    few, by = hold_out(np.arange(40), [f"d{i // 10}" for i in range(40)], 0.2, np.random.default_rng(0))
    assert by == "segment" and len(few) == 8  # 4 documents: single segments
    lopsided = ["big"] * 95 + [f"d{i}" for i in range(5)]  # one document holds 95 of 100 decisions
    held, by = hold_out(np.arange(100), lopsided, 0.2, np.random.default_rng(0))
    assert by == "segment" and len(held) == 20  # the 5 small ones are too few, the big one too big


def test_tuned_encoder_is_kept_on_held_out_log_loss():
    from models.classifiers.finetune import (
        better_on_held_out,
        held_out_log_loss,
        macro_f1,
    )

    truth = np.array([0, 1, 1, 0])
    base = np.array([[0.6, 0.4], [0.4, 0.6], [0.45, 0.55], [0.7, 0.3]])
    sharper = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.8, 0.2]])  # same argmax, surer where right
    assert held_out_log_loss(base, truth) == pytest.approx(-np.mean(np.log([0.6, 0.6, 0.55, 0.7])))
    assert macro_f1(base, truth) == macro_f1(sharper, truth) == 1.0  # F1 cannot tell them apart
    assert better_on_held_out(base, sharper, truth) and not better_on_held_out(sharper, base, truth)
    assert not better_on_held_out(base, base, truth)  # a tie keeps the base encoder
    # rows are renormalised (an exclusive head's codes plus "none" need not sum to one) and clipped
    assert held_out_log_loss(np.array([[1.2, 0.0]]), np.array([0])) == pytest.approx(0.0, abs=1e-5)
    assert held_out_log_loss(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(-np.log(1e-6), rel=1e-3)
