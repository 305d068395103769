"""Loaders for the shared evaluation datasets (read from ../shared beside the checkout).

qabstracts (Prechelt et al. 2025, CC BY 4.0): sentences of software-engineering abstracts with two
coders' independent first passes and the reconciled consensus. Benoit et al. (2016, MIT): manifesto
sentences judged by crowd workers on "is this about immigration policy?", with expert gold items.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QABSTRACTS_CODES = ["background", "gap", "objective", "method", "design", "result", "conclusion"]


@dataclass
class LabelledUnits:
    """Units in document order with binary labels.

    truth: int8 (n, n_codes) consensus labels; coders: {name: int8 (n, n_codes)} independent
    codings (-1 where that coder did not code the unit); context: neighbouring text per unit.
    """

    texts: list[str]
    doc_ids: list[str]
    ordinals: list[int]
    codes: list[str]
    truth: np.ndarray
    coders: dict[str, np.ndarray]
    gold: np.ndarray | None = None  # expert labels (-1 where none)


def load_qabstracts(root: Path) -> LabelledUnits:
    """units.jsonl of the first-pass folder; consensus = code in both final_A and final_B."""
    path = Path(root) / "first_pass" / "units.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    k = {c: i for i, c in enumerate(QABSTRACTS_CODES)}

    def onehot(codes: list[str]) -> np.ndarray:
        v = np.zeros(len(QABSTRACTS_CODES), dtype=np.int8)
        for c in codes:
            if c in k:
                v[k[c]] = 1
        return v

    truth = np.array([onehot(r["final_A"]) & onehot(r["final_B"]) for r in rows])
    return LabelledUnits(
        texts=[r["text"] for r in rows],
        doc_ids=[r["doc"] for r in rows],
        ordinals=[int(r["i"]) for r in rows],
        codes=list(QABSTRACTS_CODES),
        truth=truth,
        coders={"first_A": np.array([onehot(r["first_A"]) for r in rows]), "first_B": np.array([onehot(r["first_B"]) for r in rows])},
    )


def load_benoit(root: Path) -> LabelledUnits:
    """Non-gold and gold sentences; truth = crowd majority (policy_area 4 = immigration), ties -> no.

    coders holds every worker's judgments (first judgment when a worker judged a sentence twice).
    """
    root = Path(root)
    with open(root / "sentences.csv", encoding="utf-8", newline="") as f:
        sentences = list(csv.DictReader(f))
    sentences.sort(key=lambda r: (r["manifestoid"], int(r["sentenceid"])))
    index = {r["sentenceid"]: i for i, r in enumerate(sentences)}
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    workers: dict[str, dict[int, int]] = defaultdict(dict)
    with open(root / "judgments.csv", encoding="utf-8", newline="") as f:
        for j in csv.DictReader(f):
            i = index.get(j["sentenceid"])
            if i is None:
                continue
            label = int(j["policy_area"] == "4")
            votes[i][label] += 1
            workers[j["worker_id"]].setdefault(i, label)
    n = len(sentences)
    truth = np.zeros((n, 1), dtype=np.int8)
    for i, c in votes.items():
        truth[i, 0] = int(c[1] > c[0])
    coders = {}
    for w, labels in workers.items():
        col = np.full((n, 1), -1, dtype=np.int8)
        for i, v in labels.items():
            col[i, 0] = v
        coders[w] = col
    gold = np.array([[int(r["policy_area_gold"] == "4") if r["is_gold"] == "true" and r["policy_area_gold"] else -1] for r in sentences], dtype=np.int8)
    ordinals = []
    seen: Counter[str] = Counter()
    for r in sentences:
        ordinals.append(seen[r["manifestoid"]])
        seen[r["manifestoid"]] += 1
    return LabelledUnits(
        texts=[r["sentence_text"] for r in sentences],
        doc_ids=[r["manifestoid"] for r in sentences],
        ordinals=ordinals,
        codes=["immigration"],
        truth=truth,
        coders=coders,
        gold=gold,
    )
