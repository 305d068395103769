"""The seed codebook does not paraphrase the shipped sample corpus.

`loupe demo` scores the sample corpus with the seed codebook. If a codebook line (definition,
criterion or example) were a near copy of a corpus sentence, the demo would score its own
paraphrases. Every codebook line is compared with every sentence of the sample corpus, split by
the project's own reader and segmenter, on the default embedder.
"""

from __future__ import annotations

import numpy as np

from models.codebook import Codebook, default_not_coded
from models.text.readers import read_path
from models.text.segment import SegmentationConfig, segment_document
from tests.conftest import SAMPLE

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


def test_trust_excludes_name_the_organisations(seed):
    """The criteria tell a coder (and the scorer) that "trust" as an organisation's name is not trust."""
    text = " ".join(seed["trust"].exclude).lower()
    for name in ("nhs trust", "trust board", "foundation trust"):
        assert name in text, name
