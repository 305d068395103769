"""Compare two `loupe code` output folders (JSONL format): are the suggestions the same?

    python scripts/compare_runs.py REFERENCE CANDIDATE [--tolerance 1e-5]

For checking that a change to the pipeline leaves its output alone: run `loupe code` on the same
input with the previous commit (a `git worktree` of it) and with this one, then compare. Reports
the segments, the suggestions matched by (segment, code), suggestions only in one run, the largest
score and evidence-similarity differences, evidence sentences that moved, and the largest
embedding difference. Exit status 1 when any suggestion differs beyond the tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer


def _lines(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(ref: Path, new: Path, tolerance: float = 1e-5) -> dict[str, Any]:
    """Differences between two run folders (see the module docstring)."""
    segs_a, segs_b = _lines(ref / "segments.jsonl"), _lines(new / "segments.jsonl")
    same_segments = [(s["id"], s["start"], s["end"]) for s in segs_a] == [(s["id"], s["start"], s["end"]) for s in segs_b]
    a = {(g["segment_id"], g["code"]): g for g in _lines(ref / "suggestions.jsonl")}
    b = {(g["segment_id"], g["code"]): g for g in _lines(new / "suggestions.jsonl")}
    both = a.keys() & b.keys()
    score_diff = max((abs(a[k]["score"] - b[k]["score"]) for k in both), default=0.0)
    sim_diff = max((abs(a[k]["evidence"]["similarity"] - b[k]["evidence"]["similarity"]) for k in both), default=0.0)
    moved = sum(1 for k in both if (a[k]["evidence"]["start"], a[k]["evidence"]["end"], a[k]["evidence"]["matched"])
                != (b[k]["evidence"]["start"], b[k]["evidence"]["end"], b[k]["evidence"]["matched"]))
    dim = None
    emb_diff = None
    if (ref / "embeddings.f32").exists() and (new / "embeddings.f32").exists() and segs_a:
        va, vb = np.fromfile(ref / "embeddings.f32", np.float32), np.fromfile(new / "embeddings.f32", np.float32)
        if va.shape == vb.shape:
            dim = len(va) // len(segs_a)
            emb_diff = float(np.abs(va - vb).max())
    report = {
        "segments": len(segs_a), "same_segments": same_segments,
        "suggestions": [len(a), len(b)], "matched": len(both),
        "only_reference": sorted(map(list, a.keys() - b.keys()))[:10], "only_candidate": sorted(map(list, b.keys() - a.keys()))[:10],
        "max_score_diff": score_diff, "max_evidence_similarity_diff": sim_diff, "evidence_moved": moved,
        "max_embedding_diff": emb_diff, "dim": dim,
        "same_bytes": (ref / "suggestions.jsonl").read_bytes() == (new / "suggestions.jsonl").read_bytes(),
    }
    report["identical_within_tolerance"] = bool(
        same_segments and len(both) == len(a) == len(b) and score_diff <= tolerance and sim_diff <= tolerance and not moved)
    return report


def main(
    reference: Annotated[Path, typer.Argument(help="run folder from the reference (previous) code")],
    candidate: Annotated[Path, typer.Argument(help="run folder from the code under test")],
    tolerance: Annotated[float, typer.Option(help="largest allowed score difference")] = 1e-5,
) -> None:
    report = compare(reference, candidate, tolerance)
    print(json.dumps(report, indent=2))
    if not report["identical_within_tolerance"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
