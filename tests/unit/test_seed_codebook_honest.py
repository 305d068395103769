"""The seed codebook does not paraphrase the shipped sample corpus, nor the gold sets it is
measured on.

`loupe demo` scores the sample corpus with the seed codebook. If a codebook line (definition,
criterion or example) were a near copy of a corpus sentence, the demo would score its own
paraphrases. Every codebook line is compared with every sentence of the sample corpus, split by
the project's own reader and segmenter, on the default embedder. The same holds for the
zero-shot benchmark's own gold passages (eval/data): a codebook line copied from them would make
its figures a result built in.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.codebook import Codebook, default_not_coded
from models.text.readers import read_path
from models.text.segment import SegmentationConfig, segment_document
from tests.conftest import SAMPLE

EVAL_DATA = Path(__file__).resolve().parents[2] / "eval" / "data"

MAX_COSINE = 0.85  # at or above this, a codebook line is taken to paraphrase a corpus sentence


def codebook_lines(codebook: Codebook) -> list[tuple[str, str]]:
    """(where, text) for every line of the codebook: definition (alone and as the zero-shot
    prototype "Name: definition"), include, exclude and example."""
    lines: list[tuple[str, str]] = []
    for code in codebook:
        lines.append((f"{code.path} definition", code.definition))
        lines.append((f"{code.path} name: definition", f"{code.name}: {code.definition}"))
        for kind, texts in (("include", code.include), ("exclude", code.exclude), ("example", code.examples)):
            lines += [(f"{code.path} {kind}[{i}]", t) for i, t in enumerate(texts)]
    # the shipped passages that get no code are scored against the corpus too
    lines += [(f"not_coded[{i}]", t) for i, t in enumerate(default_not_coded())]
    return lines


def sample_sentences() -> list[tuple[str, str]]:
    """(document id, sentence) for every sentence of every sample-corpus document."""
    out: list[tuple[str, str]] = []
    for path in sorted(SAMPLE.iterdir()):
        for doc in read_path(path, text_column="response"):  # the survey's text column, as `loupe demo` reads it
            out += [(doc.id, seg.text) for seg in segment_document(doc, SegmentationConfig(unit="sentence"))]
    return out


def test_no_codebook_line_paraphrases_the_sample_corpus(seed, embedder):
    lines = codebook_lines(seed)
    sentences = sample_sentences()
    assert len(sentences) > 50 and len(lines) > 100
    sims = embedder.encode([t for _, t in lines]) @ embedder.encode([t for _, t in sentences]).T  # (lines, sentences)
    best = sims.max(axis=1)
    top = int(best.argmax())
    print(f"\nmax cosine of a seed codebook line to a sample-corpus sentence: {best[top]:.3f} "
          f"({lines[top][0]}); {len(lines)} lines x {len(sentences)} sentences")
    bad = np.flatnonzero(best >= MAX_COSINE)
    report = "\n".join(
        f"  {sims[i].max():.3f}  {lines[i][0]}: {lines[i][1]!r}\n"
        f"         ~ {sentences[int(sims[i].argmax())][0]}: {sentences[int(sims[i].argmax())][1]!r}"
        for i in bad[np.argsort(-best[bad])]
    )
    assert not len(bad), f"{len(bad)} seed codebook lines have cosine >= {MAX_COSINE} to a sample-corpus sentence:\n{report}"


def gold_passages() -> list[tuple[str, str]]:
    """(where, text) for every gold passage of the interview dev set and the held-out interviews."""
    out: list[tuple[str, str]] = []
    for path in (EVAL_DATA / "interview_turns" / "turns.jsonl", EVAL_DATA / "interview_turns" / "transcripts" / "gold.jsonl",
                 EVAL_DATA / "heldout_interviews" / "gold.jsonl"):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out += [(f"{path.relative_to(EVAL_DATA)}:{k + 1}", r["text"]) for k, r in enumerate(rows)]
    return out


def test_no_codebook_line_paraphrases_the_gold_passages(seed, embedder):
    lines = codebook_lines(seed)
    passages = gold_passages()
    assert len(passages) > 190
    sims = embedder.encode([t for _, t in lines]) @ embedder.encode([t for _, t in passages]).T
    best = sims.max(axis=1)
    print(f"\nmax cosine of a seed codebook line to a gold passage: {best.max():.3f}")
    bad = np.flatnonzero(best >= MAX_COSINE)
    report = "\n".join(f"  {best[i]:.3f}  {lines[i][0]} ~ {passages[int(sims[i].argmax())][0]}" for i in bad)
    assert not len(bad), f"{len(bad)} seed codebook lines have cosine >= {MAX_COSINE} to a gold passage:\n{report}"


def test_trust_excludes_name_the_organisations(seed):
    """The criteria tell a coder (and the scorer) that "trust" as an organisation's name is not trust."""
    text = " ".join(seed["trust"].exclude).lower()
    for name in ("nhs trust", "trust board", "foundation trust"):
        assert name in text, name
