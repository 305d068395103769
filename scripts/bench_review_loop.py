"""The review loop through the service: how far do an analyst's first decisions move the suggestions?

    python scripts/bench_review_loop.py [--datasets litreview,interview] [--sizes 25,50] [--seeds 3]
        [--head evidence_weight=1] [--out bench-results/review_loop.json]

Everything goes through the real HTTP app and its job runner, in-process (`create_app` served by
FastAPI's TestClient, one Pipeline with the default embedder), as an analyst would use it:

1. create a project with the seed codebook (retraining by hand only: retrain_every=0);
2. upload every passage as a text document of its own (unit "paragraph"): one document per
   passage, so that a passage's neighbours and position (features of the learned head) carry no
   trace of the dataset's section order;
3. run a suggest job and keep its suggestions: the zero-shot figures;
4. decide passages in one of two orders, until `size` passages are decided:
   - queue: the review queue's order (GET /queue): the first queue item's passage is decided
     next; when the queue runs dry, the undecided passages in upload order;
   - random: a random permutation of the passages (fixed seeds 0, 1, 2...).
   Deciding a passage means, for each of its segments: accept each suggestion whose top-level code
   is the gold one, reject the others, and add the gold (top-level) code where none was accepted;
5. run a retrain job and score the passages not decided (the held-out ones) from their
   suggestions: the best suggestion's top-level code against the gold one, Cohen's kappa
   (sklearn; a passage without a suggestion at or above the project's threshold counts as "none"),
   accuracy and coverage (the share with any suggestion). The zero-shot figures are computed on
   the same held-out passages. Then decide more (the queue now ranked by the retrain job), up to
   the next size. Sizes that leave fewer than `min_heldout` passages are skipped.

Datasets:
- litreview: 50 paragraphs of the seed study's literature review
  (../shared/datasets/thesis_litreview_themes; gold = the theme of the section, a top-level code);
- interview: the 103 on-topic hand-written interview turns (eval/data/interview_turns/turns.jsonl;
  gold = `code`).
A passage over the segmenter's token budget (200) is split into several segments: its suggestions
are those of all its segments (as in scripts/bench_zero_shot.py), and deciding it decides them all.

`--head name=value` (repeatable) overrides a field of the learned head's configuration
(models.classifiers.learned.HeadConfig) for the retrain jobs of this run, to compare blends
without editing the code. Prints a table; writes JSON with the commit and settings.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
NONE = "none"
console = Console(width=160)


@dataclass(frozen=True)
class Passage:
    id: str
    gold: str  # a top-level code
    text: str


def load_litreview() -> list[Passage]:
    rows = [json.loads(x) for x in (SHARED / "thesis_litreview_themes" / "paragraphs.jsonl").read_text().splitlines() if x.strip()]
    return [Passage(r["id"], r["theme"], r["text"]) for r in rows]


def load_interview() -> list[Passage]:
    rows = [json.loads(x) for x in (ROOT / "eval" / "data" / "interview_turns" / "turns.jsonl").read_text().splitlines() if x.strip()]
    return [Passage(r["id"], r["code"], r["text"]) for r in rows if r["kind"] == "on_topic"]


DATASETS = {"litreview": load_litreview, "interview": load_interview}


def top(code: str) -> str:
    return code.split("/")[0]


class Analyst:
    """One project through the HTTP API: its owner's client, the passages' documents and segments."""

    def __init__(self, client: Any, passages: list[Passage], **project: Any) -> None:
        self.client = client
        created = self._ok("POST", "/projects", 201, json={"name": "review-loop", "owner": "analyst", "retrain_every": 0, **project})
        self.pid = created["project"]["id"]
        self.headers = {"Authorization": f"Bearer {created['owner']['token']}"}
        self.threshold = created["project"]["threshold"]
        self.passages = passages
        self.doc_of: dict[str, int] = {}
        for p in passages:
            doc = self._ok("POST", f"/projects/{self.pid}/documents/text", 201, json={"name": f"{p.id}.txt", "text": p.text, "unit": "paragraph"})
            self.doc_of[p.id] = doc["id"]
        self.passage_of = {d: p for p, d in zip(passages, (self.doc_of[p.id] for p in passages), strict=True)}
        segments: list[dict[str, Any]] = []
        while page := self._ok("GET", f"/projects/{self.pid}/segments", params={"limit": 1000, "after": segments[-1]["id"] if segments else 0}):
            segments += page
        self.segments: dict[int, list[int]] = defaultdict(list)  # document id -> its data segments
        self.not_data = 0
        for s in segments:
            if s["role"] == "data":
                self.segments[s["document_id"]].append(s["id"])
            else:
                self.not_data += 1
        self.decided: list[str] = []  # passage ids, in decision order
        self.decisions = 0

    def _ok(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = self.client.request(method, path, headers=getattr(self, "headers", {}), **kw)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json()

    def job(self, kind: str) -> dict[str, Any]:
        job = self._ok("POST", f"/projects/{self.pid}/jobs", 202, json={"kind": kind})
        while job["status"] not in ("done", "failed"):
            time.sleep(0.05)
            job = self._ok("GET", f"/projects/{self.pid}/jobs/{job['id']}")
        if job["status"] != "done":
            raise RuntimeError(f"{kind} job failed: {job['error']}")
        return job

    def queue(self, **params: Any) -> list[dict[str, Any]]:
        """Every item of the owner's queue, in queue order (all pages)."""
        items, cursor = [], None
        while True:
            page = self._ok("GET", f"/projects/{self.pid}/queue",
                            params={"limit": 200, "evidence": False, **params, **({"cursor": cursor} if cursor else {})})
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def suggestions(self) -> dict[str, list[tuple[str, float]]]:
        """{passage id: [(code, score), ...] best first} for the undecided passages, from the queue;
        only suggestions at or above the project's threshold count (a retrain re-scores, and may
        push below it, suggestions it no longer proposes)."""
        out: dict[str, list[tuple[str, float]]] = {p.id: [] for p in self.passages if p.id not in set(self.decided)}
        for item in self.queue():
            s = item["suggestion"]
            pid = self.passage_of[s["document_id"]].id
            if pid in out and s["score"] >= self.threshold:
                out[pid].append((s["code"], s["score"]))
        return {k: sorted(v, key=lambda cs: -cs[1]) for k, v in out.items()}

    def decide(self, passage: Passage) -> None:
        """Accept the suggestions of the gold top-level code, reject the others, add the gold code to
        each segment where none was accepted."""
        doc = self.doc_of[passage.id]
        accepted: set[int] = set()
        for item in self.queue(document_id=doc):
            s = item["suggestion"]
            ok = top(s["code"]) == passage.gold
            self._ok("POST", f"/projects/{self.pid}/decisions", 201, json={"suggestion_id": s["id"], "verdict": "accept" if ok else "reject"})
            self.decisions += 1
            if ok:
                accepted.add(s["segment_id"])
        for seg in self.segments[doc]:
            if seg not in accepted:
                self._ok("POST", f"/projects/{self.pid}/decisions", 201, json={"segment_id": seg, "code": passage.gold, "verdict": "add"})
                self.decisions += 1
        self.decided.append(passage.id)

    def next_in_queue(self) -> Passage | None:
        """The passage of the first queue item not yet decided (a retrain may propose new codes for a
        decided passage: those items are skipped, as the passage is already coded)."""
        done, cursor = set(self.decided), None
        while True:
            page = self._ok("GET", f"/projects/{self.pid}/queue",
                            params={"limit": 50, "evidence": False, **({"cursor": cursor} if cursor else {})})
            for item in page["items"]:
                passage = self.passage_of[item["suggestion"]["document_id"]]
                if passage.id not in done:
                    return passage
            cursor = page["next_cursor"]
            if not cursor:
                return None


def score(passages: list[Passage], suggested: dict[str, list[tuple[str, float]]]) -> dict[str, Any]:
    """Top-1 top-level code against gold over the given passages."""
    from sklearn.metrics import cohen_kappa_score

    gold = [p.gold for p in passages]
    pred = [top(suggested[p.id][0][0]) if suggested[p.id] else NONE for p in passages]
    labels = set(gold) | set(pred)
    return {
        "kappa": float(cohen_kappa_score(gold, pred)) if len(labels) > 1 else None,
        "accuracy": float(np.mean([g == q for g, q in zip(gold, pred, strict=True)])),
        "coverage": float(np.mean([q != NONE for q in pred])),
        "uncovered": int(sum(q == NONE for q in pred)),
    }


@dataclass
class Run:
    dataset: str
    order: str
    seed: int | None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def run_one(client: Any, dataset: str, passages: list[Passage], order: str, seed: int | None, sizes: list[int]) -> Run:
    analyst = Analyst(client, passages)
    analyst.job("suggest")
    zero = analyst.suggestions()
    run = Run(dataset, order, seed)
    by_id = {p.id: p for p in passages}
    upload_order = list(passages)
    perm = [passages[i] for i in np.random.default_rng(seed).permutation(len(passages))] if order == "random" else []
    from_fallback = 0
    for size in sizes:
        while len(analyst.decided) < size:
            done = set(analyst.decided)
            if order == "random":
                nxt = next(p for p in perm if p.id not in done)
            else:
                nxt = analyst.next_in_queue()
                if nxt is None:  # the queue ran dry: the undecided passages in upload order
                    nxt = next(p for p in upload_order if p.id not in done)
                    from_fallback += 1
            analyst.decide(nxt)
        job = analyst.job("retrain")
        after = analyst.suggestions()
        held = [by_id[k] for k in after]
        point = {
            "decided": size, "heldout": len(held), "decisions": analyst.decisions, "decisions_used": job["counts"].get("decisions_used"),
            "model": job["counts"].get("model"), "decided_gold": {c: sum(by_id[k].gold == c for k in analyst.decided) for c in sorted({p.gold for p in passages})},
            "from_upload_order": from_fallback,
            "zero_shot": score(held, zero), "learned": score(held, after),
            "passages": {p.id: {"gold": p.gold, "zero_shot": zero[p.id][:3], "learned": after[p.id][:3]} for p in held},
        }
        point["gain"] = None if point["learned"]["kappa"] is None or point["zero_shot"]["kappa"] is None else point["learned"]["kappa"] - point["zero_shot"]["kappa"]
        run.checkpoints.append(point)
        console.print(f"  {dataset} {order} seed={seed} n={size}: zero-shot κ {_f(point['zero_shot']['kappa'])} -> learned κ "
                      f"{_f(point['learned']['kappa'])} (coverage {point['zero_shot']['coverage']:.2f} -> {point['learned']['coverage']:.2f}; "
                      f"{analyst.decisions} decisions)")
    return run


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _parse_head(items: list[str]) -> dict[str, Any]:
    from models.classifiers.learned import HeadConfig

    types = {f.name: f.type for f in dataclasses.fields(HeadConfig)}
    out: dict[str, Any] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in types:
            raise typer.BadParameter(f"--head {item}: HeadConfig has no field {name!r} (fields: {', '.join(types)})")
        out[name] = json.loads(value) if value else None
    return out


def _commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "models", "service"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(
    datasets: str = typer.Option("litreview,interview", help="comma-separated: litreview, interview"),
    sizes: str = typer.Option("25,50", help="passages decided at each checkpoint (a retrain after each)"),
    seeds: int = typer.Option(3, help="random orders (seeds 0..seeds-1); the queue order is run once"),
    orders: str = typer.Option("queue,random"),
    min_heldout: int = typer.Option(25, help="skip a size that leaves fewer passages than this to score"),
    head: list[str] = typer.Option([], help="override a HeadConfig field for the retrain jobs, e.g. evidence_weight=1"),
    out: Path = typer.Option(ROOT / "bench-results" / "review_loop.json"),
) -> None:
    from fastapi.testclient import TestClient

    import service.jobs.scoring as scoring
    from models.classifiers.learned import HeadConfig
    from service.app import create_app
    from service.pipeline import Pipeline
    from service.settings import Settings

    overrides = _parse_head(head)
    if overrides:  # the retrain job builds HeadConfig(seed=0) (or the exclusive one): add the overrides
        scoring.HeadConfig = functools.partial(HeadConfig, **overrides)  # type: ignore[misc,assignment]  # a benchmark-time override of the job's config
    config = dataclasses.asdict(HeadConfig(**overrides))
    wanted = [int(s) for s in sizes.split(",")]
    t0 = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), threads=2)
        pipeline = Pipeline(settings)
        with TestClient(create_app(settings, pipeline=pipeline), raise_server_exceptions=True) as client:
            for name in datasets.split(","):
                passages = DATASETS[name]()
                use = [s for s in wanted if len(passages) - s >= min_heldout]
                console.print(f"{name}: {len(passages)} passages, sizes {use} (head {overrides or 'as committed'})")
                for order in orders.split(","):
                    for seed in ([None] if order == "queue" else list(range(seeds))):
                        runs.append(run_one(client, name, passages, order, seed, use))
    summary = _summary(runs)
    record = {"commit": _commit(), "head": config, "head_overrides": overrides, "sizes": wanted, "seeds": seeds,
              "seconds": round(time.perf_counter() - t0, 1), "cpus": os.cpu_count(), "summary": summary, "runs": [dataclasses.asdict(r) for r in runs]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    _table(summary, overrides)
    console.print(f"wrote {out} ({record['seconds']:.0f} s)")


def _summary(runs: list[Run]) -> list[dict[str, Any]]:
    """Mean over seeds per (dataset, order, size)."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        for p in r.checkpoints:
            groups[(r.dataset, r.order, p["decided"])].append(p)
    out = []
    def mean(points: list[dict[str, Any]], where: str, key: str) -> float | None:
        xs = [p[where][key] for p in points if p[where][key] is not None]
        return float(np.mean(xs)) if xs else None

    for (dataset, order, size), points in groups.items():
        gains = [p["gain"] for p in points if p["gain"] is not None]
        out.append({"dataset": dataset, "order": order, "decided": size, "runs": len(points), "heldout": points[0]["heldout"],
                    "decisions": float(np.mean([p["decisions"] for p in points])),
                    "zero_shot_kappa": mean(points, "zero_shot", "kappa"), "learned_kappa": mean(points, "learned", "kappa"),
                    "gain": float(np.mean(gains)) if gains else None, "gain_min": float(min(gains)) if gains else None,
                    "zero_shot_accuracy": mean(points, "zero_shot", "accuracy"), "learned_accuracy": mean(points, "learned", "accuracy"),
                    "zero_shot_coverage": mean(points, "zero_shot", "coverage"), "learned_coverage": mean(points, "learned", "coverage")})
    return out


def _table(summary: list[dict[str, Any]], overrides: dict[str, Any]) -> None:
    table = Table(title=f"review loop through the service (head: {overrides or 'as committed'}); held-out passages, mean over seeds")
    for col in ("dataset", "order", "decided", "held out", "decisions", "zero-shot κ", "learned κ", "gain (min)",
                "zero-shot acc", "learned acc", "coverage 0 -> learned"):
        table.add_column(col, justify="right")
    for s in summary:
        table.add_row(s["dataset"], f"{s['order']} ({s['runs']})", str(s["decided"]), str(s["heldout"]), f"{s['decisions']:.0f}",
                      _f(s["zero_shot_kappa"]), _f(s["learned_kappa"]), f"{_f(s['gain'])} ({_f(s['gain_min'])})",
                      _f(s["zero_shot_accuracy"]), _f(s["learned_accuracy"]),
                      f"{s['zero_shot_coverage']:.2f} -> {s['learned_coverage']:.2f}")
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
