"""The zero-shot benchmark's datasets: each dataset's gold codes, the input file `loupe code` reads,
and how its suggestions are assigned back to the gold passages (scripts/bench_zero_shot.py runs
and scores them). Gold is read from files kept apart from the codebook; nothing here is tuned."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
INTERVIEWS = ROOT / "eval" / "data" / "interview_turns"
HELDOUT = ROOT / "eval" / "data" / "heldout_interviews"
BENOIT_CODEBOOK = ROOT / "eval" / "data" / "benoit_immigration_codebook.yaml"
NONE = "none"
ALL = ("litreview", "interview", "transcripts", "benoit")  # the default run: the dev sets
HELD_OUT = ("heldout",)  # run only when named, and never with --variants or --ceiling (nothing is chosen on it)
console = Console(width=150)



@dataclass(frozen=True)
class Gold:
    """One evaluated passage: its id in the dataset, top-level gold code (or "none") and kind."""

    id: str
    gold: str
    kind: str  # "on_topic", "off_topic" or "not_data"
    also: tuple[str, ...] = ()  # further top-level codes that clearly apply too


Ranked = list[tuple[str, float]]  # a passage's suggestions: (code, score), best first


@dataclass
class Dataset:
    """A dataset to code with `loupe code`: how to write its inputs and read back its suggestions.

    write(folder) -> (input paths, extra `loupe code` options); assign(segments, suggestions) ->
    {passage id: ranked suggestions}, with segments/suggestions as loupe writes them (jsonl records).
    evaluations: named gold sets scored on the same run (benoit: crowd majority and expert gold).
    """

    name: str
    codebook: str
    write: Callable[[Path], tuple[list[Path], list[str]]]
    assign: Callable[[list[dict], list[dict]], dict[str, Ranked]]
    evaluations: dict[str, list[Gold]]
    units: Callable[[list[dict]], dict[str, list[int]]] = field(default=lambda segments: {})
    note: str = ""
    late_gold: Callable[[list[dict]], list[Gold]] | None = None  # gold that depends on the segmentation


def top(code: str) -> str:
    return code.split("/")[0]


# -- datasets ----------------------------------------------------------------------------------------
def _jsonl_dataset(name: str, codebook: str, rows: list[tuple[str, str]], evaluations: dict[str, list[Gold]],
                   note: str = "") -> Dataset:
    """Rows (id, text) written as one .jsonl file; each row is one document, so one passage."""
    filename = f"{name}.jsonl"

    def write(folder: Path) -> tuple[list[Path], list[str]]:
        path = folder / filename
        with open(path, "w", encoding="utf-8") as f:
            for pid, text in rows:
                f.write(json.dumps({"id": pid, "text": text}, ensure_ascii=False) + "\n")
        return [path], ["--text-column", "text", "--id-column", "id"]

    prefix = filename + "/"

    def units(segments: list[dict]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for k, s in enumerate(segments):
            out[s["document"].removeprefix(prefix)].append(k)
        return out

    def assign(segments: list[dict], suggestions: list[dict]) -> dict[str, Ranked]:
        best: dict[str, dict[str, float]] = defaultdict(dict)
        for s in suggestions:
            pid = s["document"].removeprefix(prefix)
            best[pid][s["code"]] = max(best[pid].get(s["code"], 0.0), float(s["score"]))
        return {pid: sorted(codes.items(), key=lambda kv: -kv[1]) for pid, codes in best.items()}

    return Dataset(name, codebook, write, assign, evaluations, units, note)


def litreview(root: Path) -> Dataset:
    rows = [json.loads(line) for line in (root / "paragraphs.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    gold = [Gold(r["id"], r["theme"], "on_topic") for r in rows]
    return _jsonl_dataset("litreview", "seed", [(r["id"], r["text"]) for r in rows], {"litreview": gold},
                          note="thesis literature review paragraphs, gold = section theme")


def _gold(pid: str, row: dict) -> Gold:
    kind = row.get("kind") or ("off_topic" if row.get("code") in (None, "", NONE) else "on_topic")
    if kind != "on_topic":
        return Gold(pid, NONE, kind)
    return Gold(pid, top(row["code"]), kind, tuple(top(c) for c in row.get("also", [])))


def interview_turns(folder: Path) -> Dataset:
    """turns.jsonl: one turn a row, `code` (top level or none), `also`, `kind` (see its README)."""
    rows = [json.loads(line) for line in (folder / "turns.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [str(r.get("id", k)) for k, r in enumerate(rows)]
    gold = [_gold(pid, r) for pid, r in zip(ids, rows, strict=True)]
    return _jsonl_dataset("interview", "seed", [(pid, r["text"]) for pid, r in zip(ids, rows, strict=True)], {"interview": gold},
                          note="hand-written interview turns, one per row")


def transcripts(folder: Path, name: str = "transcripts") -> Dataset:
    """Whole transcripts coded as files; gold.jsonl gives each participant answer's file and text.

    An answer's suggestions are those of the segments that overlap it. Every other line (header
    block, interviewer turns) is not data: segments that overlap no answer are scored as one
    not-data passage each.
    """
    rows = [json.loads(line) for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    files = sorted({r["file"] for r in rows})
    content = {name: (folder / name).read_text(encoding="utf-8") for name in files}
    spans: dict[str, tuple[str, int, int]] = {}
    gold = []
    for k, r in enumerate(rows):
        start = content[r["file"]].find(r["text"])
        if start < 0:
            raise ValueError(f"gold answer {k} not found in {r['file']}")
        pid = f"{r['file']}:{start}"
        spans[pid] = (r["file"], start, start + len(r["text"]))
        gold.append(_gold(pid, r))

    def write(out: Path) -> tuple[list[Path], list[str]]:
        for name in files:
            (out / name).write_text(content[name], encoding="utf-8")
        return [out / name for name in files], []

    def passage_of(items: list[dict]) -> dict[str, list[dict]]:
        """Passage id -> the records (segments or suggestions) that fall in it; a segment outside
        every answer is its own not-data passage ("<file>#<ordinal>")."""
        out: dict[str, list[dict]] = defaultdict(list)
        for it in items:
            name = Path(it["document"]).name
            hit = [pid for pid, (f, a, b) in spans.items() if f == name and it["start"] < b and a < it["end"]]
            for pid in hit or [f"{name}#{it['segment_id' if 'segment_id' in it else 'id'].rsplit('#', 1)[-1]}"]:
                out[pid].append(it)
        return out

    def units(segments: list[dict]) -> dict[str, list[int]]:
        index = {id(s): k for k, s in enumerate(segments)}
        return {pid: [index[id(s)] for s in segs] for pid, segs in passage_of(segments).items()}

    def assign(segments: list[dict], suggestions: list[dict]) -> dict[str, Ranked]:
        out: dict[str, Ranked] = {}
        for pid, sugs in passage_of(suggestions).items():
            best: dict[str, float] = {}
            for s in sugs:
                best[s["code"]] = max(best.get(s["code"], 0.0), float(s["score"]))
            out[pid] = sorted(best.items(), key=lambda kv: -kv[1])
        return out

    def evaluations(segments: list[dict]) -> list[Gold]:
        extra = sorted(pid for pid in passage_of(segments) if pid not in spans)
        return gold + [Gold(pid, NONE, "not_data") for pid in extra]

    return Dataset(name, "seed", write, assign, {name: gold}, units,
                   note="whole transcripts; answers located by their text, every other segment is not data",
                   late_gold=evaluations)


def benoit(root: Path, codebook: Path) -> Dataset:
    from eval.datasets import load_benoit

    data = load_benoit(root)
    with open(root / "sentences.csv", encoding="utf-8", newline="") as f:
        is_gold = {r["sentence_text"] for r in csv.DictReader(f) if r["is_gold"] == "true"}
    crowd, expert = [], []
    rows = []
    for i, text in enumerate(data.texts):
        pid = f"s{i:05d}"
        rows.append((pid, text))
        if data.gold is not None and data.gold[i, 0] >= 0:
            yes = bool(data.gold[i, 0])
            expert.append(Gold(pid, "immigration" if yes else NONE, "on_topic" if yes else "off_topic"))
        elif text not in is_gold:
            yes = bool(data.truth[i, 0])
            crowd.append(Gold(pid, "immigration" if yes else NONE, "on_topic" if yes else "off_topic"))
    return _jsonl_dataset("benoit", str(codebook), rows, {"benoit": crowd, "benoit-expert": expert},
                          note="manifesto sentences; benoit = ordinary sentences vs crowd majority (ties: no), "
                               "benoit-expert = gold items vs the expert answer")


def load_datasets(names: list[str], interviews: Path, shared: Path = SHARED) -> list[Dataset]:
    out = []
    for name in names:
        if name == "litreview":
            out.append(litreview(shared / "thesis_litreview_themes"))
        elif name == "interview":
            if not (interviews / "turns.jsonl").exists():
                console.print(f"[yellow]skipped interview:[/] {interviews / 'turns.jsonl'} is absent")
                continue
            out.append(interview_turns(interviews))
        elif name == "transcripts":
            if not (interviews / "transcripts" / "gold.jsonl").exists():
                console.print(f"[yellow]skipped transcripts:[/] {interviews / 'transcripts' / 'gold.jsonl'} is absent")
                continue
            out.append(transcripts(interviews / "transcripts"))
        elif name == "heldout":
            out.append(transcripts(HELDOUT, "heldout"))
        elif name == "benoit":
            out.append(benoit(shared / "benoit2016_crowd_immigration", BENOIT_CODEBOOK))
        else:
            raise typer.BadParameter(f"unknown dataset {name!r}; use {', '.join(ALL + HELD_OUT)}")
    return out
