"""What `loupe demo` prints after coding the sample corpus: what was scored, a sample spread over the
corpus in reading order (segments without a suggestion included), and what the scores do not mean.

Invariant: the sample is chosen by position, never by score, so the demo shows misses and weak
proposals as often as they occur; nothing here claims an accuracy that was not measured."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SAMPLE_ROWS = 6
EXCERPT_CHARS = 160


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def spread(items: list[Any], k: int) -> list[Any]:
    """k items at even steps through `items` (all of them when there are k or fewer)."""
    if len(items) <= k:
        return list(items)
    step = len(items) / k
    return [items[int(i * step + step / 2)] for i in range(k)]


def print_demo_report(out: Path, console: Console, *, threshold: float) -> None:
    segments = _read_jsonl(out / "segments.jsonl")
    by_segment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in _read_jsonl(out / "suggestions.jsonl"):
        by_segment[rec["segment_id"]].append(rec)
    data = [s for s in segments if s.get("coded", True)]
    not_data = len(segments) - len(data)
    with_suggestion = sum(1 for s in data if by_segment.get(s["id"]))
    console.print(
        f"\nScored {len(data)} data segments against the seed codebook; {with_suggestion} got at least one "
        f"suggestion (best code at score >= {threshold:g}, plus codes within 0.1 of it) and "
        f"{len(data) - with_suggestion} got none. {not_data} segments are not data (titles, metadata, "
        "interviewer turns): kept with their offsets for context, not coded.",
        highlight=False,
    )
    table = Table(title=f"{SAMPLE_ROWS} segments spread through the corpus, in reading order", title_justify="left", show_lines=True)
    for col in ("segment", "text", "suggestions (score)"):
        table.add_column(col, overflow="fold")
    for seg in spread(data, SAMPLE_ROWS):
        recs = sorted(by_segment.get(seg["id"], []), key=lambda r: -r["score"])
        text = seg["text"] if len(seg["text"]) <= EXCERPT_CHARS else seg["text"][: EXCERPT_CHARS - 1] + "…"
        proposals = "\n".join(f"{r['code']} ({r['score']:.2f})" for r in recs) or "(no suggestion)"
        table.add_row(f"{seg['id']} ({seg.get('speaker') or '-'})", text, proposals)
    console.print(table)
    console.print(
        "These are proposals for you to accept or reject, not codings. A score ranks codes for one passage; "
        "it is not the chance that the code is right. How often the top suggestion matched human coders on "
        "text Loupe was not built from, and how often off-topic text still got one, is measured in "
        "docs/zero-shot.md.",
        highlight=False,
    )
