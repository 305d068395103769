"""Discovery on files (`loupe cluster PATH`): read and segment them, embed (with the cache), score
with the zero-shot classifier, and hand the arrays to models.discovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.codebook import resolve_codebook
from models.discovery.describe import cover_threshold, member_codes
from models.text.segment import SegmentationConfig
from service.batch.inputs import ReadOptions, load_corpus
from service.discovery.clusters import ProjectSegments
from service.pipeline import Pipeline
from service.settings import Settings


def discover_inputs(settings: Settings, paths: list[Path], *, codebook: str = "seed", unit: str = "auto",
                    text_column: str = "text", threshold: float = 0.5, chunk: int = 2048) -> tuple[ProjectSegments, str]:
    """Arrays for discovery over files; segment ids are 'document#ordinal'. Raises LoupeError."""
    book = resolve_codebook(codebook)
    pipeline = Pipeline(settings)
    corpus = load_corpus(paths, read=ReadOptions(text_column=text_column), segmentation=SegmentationConfig(unit=unit),  # type: ignore[arg-type]  # unit is the CLI's str; SegmentationConfig refuses an unknown one
                         count_tokens=pipeline.embedder.count_tokens)
    segs = [s for s in corpus.segments if s.codable]  # header lines and interviewer turns are not clustered
    classifier = pipeline.classifier(book, threshold)
    vectors = np.zeros((len(segs), pipeline.embedder.dim), np.float32)
    scores = np.zeros((len(segs), len(classifier.codes)), np.float32)
    for lo in range(0, len(segs), chunk):
        part = segs[lo:lo + chunk]
        encoded = pipeline.embedder.encode_segments([s.text for s in part], [s.sentences for s in part])
        vectors[lo:lo + len(part)] = encoded.vectors
        scores[lo:lo + len(part)] = classifier.score(encoded, part)
    data = ProjectSegments(
        ids=[f"{s.document_id}#{s.ordinal}" for s in segs], texts=[s.text for s in segs], documents=[s.document_id for s in segs],
        speakers=[s.speaker for s in segs], vectors=vectors, carried=member_codes(scores, classifier.codes, cover_threshold(threshold)),
        scores=scores, codes=list(classifier.codes), book=None, codebook=book,
    )
    return data, book.name
