"""LLM-assisted coding: deductive coding from the codebook, verifying (reranking) embedding
suggestions, rationales, and names for candidate codes. Works with any backend; every answer
carries its provenance and is cached by request.

- A causal LM codes deductively by the log-likelihood of each code id (and "none") after the
  prompt: the answer is always a valid code, and a softmax over the choices gives probabilities
  that sum to 1. It verifies by P("yes") against P("no").
- An NLI model scores each code's definition as a hypothesis about the passage (entailment
  against contradiction).
- A chat server answers in JSON constrained by a schema: the code it chooses, with its own
  confidence (a self-report, not a likelihood; the rest of the mass is spread evenly).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from models.codebook import Codebook
from models.llm.base import Backend, EntailmentBackend, Provenance, ResponseCache, request_key
from models.llm.errors import LLMError
from models.llm.prompts import Passage, PromptTemplate, code_values, codebook_text, passage_values, template

NONE = "none"
T = TypeVar("T")


def softmax(values: list[float]) -> list[float]:
    m = max(values)
    ex = [math.exp(v - m) for v in values]
    s = sum(ex)
    return [e / s for e in ex]


@dataclass(frozen=True)
class LLMCoding:
    code: str | None  # None: "none of these codes"
    probabilities: dict[str, float]  # over the codes and "none"; sums to 1
    provenance: Provenance


@dataclass(frozen=True)
class Verification:
    p_applies: float
    provenance: Provenance


class LLMCoder:
    def __init__(self, backend: Backend, codebook: Codebook, *, cache: ResponseCache | None = None, allow_none: bool = True,
                 versions: dict[str, int] | None = None) -> None:
        self.backend, self.codebook, self.allow_none = backend, codebook, allow_none
        self.cache = cache or ResponseCache()
        self.versions = versions or {}
        self.codes = [c.path for c in codebook if c.codable]
        self._book_text = codebook_text(codebook)

    def _cached(self, kind: str, tpl: PromptTemplate, prompts: list[str], extra: object,
                run: Callable[[list[str]], Sequence[T]]) -> list[tuple[T, Provenance]]:
        """Answers for the prompts: from the cache where the same request was made, else from `run`."""
        params = {"kind": kind, "extra": extra}
        keys = [request_key(self.backend.name, self.backend.model_id, tpl.sha256, params, p) for p in prompts]
        found = [self.cache.get(k) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        fresh = run([prompts[i] for i in todo]) if todo else []
        out: list[tuple[T, Provenance]] = []
        fresh_iter = iter(fresh)
        for key, hit in zip(keys, found, strict=True):
            value: T
            if hit is not None:
                value, at = hit
                cached = True
            else:
                value = next(fresh_iter)
                at, cached = self.cache.put(key, value), False
            prov = Provenance(self.backend.name, self.backend.model_id, tpl.ref, tpl.sha256, params, at, cached, key)
            out.append((value, prov))
        return out

    # -- deductive coding ---------------------------------------------------------------------
    def code(self, passages: list[Passage]) -> list[LLMCoding]:
        choices = self.codes + ([NONE] if self.allow_none else [])
        if self.backend.name == "nli":
            return self._code_nli(passages, choices)
        tpl = template("deductive", self.versions.get("deductive"))
        prompts = [tpl.render(codebook=self._book_text, **passage_values(p)) for p in passages]
        if self.backend.name == "openai":
            schema = {"type": "object", "additionalProperties": False, "required": ["code", "confidence"],
                      "properties": {"code": {"enum": choices}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}
            json_answers = self._cached("deductive-json", tpl, prompts, schema, lambda ps: self.backend.complete_json(ps, schema))
            out = []
            for value, prov in json_answers:
                conf = float(value["confidence"])
                rest = (1 - conf) / (len(choices) - 1) if len(choices) > 1 else 0.0
                probs = {c: (conf if c == value["code"] else rest) for c in choices}
                out.append(LLMCoding(None if value["code"] == NONE else value["code"], probs, prov))
            return out
        answers = self._cached("deductive-choices", tpl, prompts, choices,
                               lambda ps: self.backend.score_choices(ps, [choices] * len(ps)))
        out = []
        for logps, prov in answers:
            probs = dict(zip(choices, softmax(logps), strict=True))
            best = max(probs, key=probs.__getitem__)
            out.append(LLMCoding(None if best == NONE else best, probs, prov))
        return out

    def _nli(self) -> EntailmentBackend:
        """The backend, named "nli", as the entailment scorer it is."""
        if not isinstance(self.backend, EntailmentBackend):
            raise LLMError(f"the {self.backend.name!r} backend scores no entailment")
        return self.backend

    def _code_nli(self, passages: list[Passage], choices: list[str]) -> list[LLMCoding]:
        tpl = template("nli_hypothesis", self.versions.get("nli_hypothesis"))
        hyps = [tpl.render(definition=self.codebook[c].definition, code_name=self.codebook[c].name) for c in self.codes]
        prompts = [p.text for p in passages]
        answers = self._cached("nli-code", tpl, prompts, hyps,
                               lambda ps: [self._nli().entailment([(p, h) for h in hyps])[:, 0].tolist() for p in ps])
        out = []
        for logits, prov in answers:
            scores = list(logits) + ([0.0] if self.allow_none else [])  # "none": a neutral logit of 0
            probs = dict(zip(choices, softmax(scores), strict=True))
            best = max(probs, key=probs.__getitem__)
            out.append(LLMCoding(None if best == NONE else best, probs, prov))
        return out

    # -- verification (rerank) ------------------------------------------------------------------
    def verify(self, items: list[tuple[Passage, str]]) -> list[Verification]:
        """P(the code applies) for each (passage, code path)."""
        codes = [self.codebook[c] for _, c in items]
        if self.backend.name == "nli":
            tpl = template("nli_hypothesis", self.versions.get("nli_hypothesis"))
            prompts = [json.dumps([p.text, tpl.render(definition=c.definition, code_name=c.name)]) for (p, _), c in zip(items, codes, strict=True)]
            answers = self._cached("nli-verify", tpl, prompts, None,
                                   lambda ps: self._nli().entailment([(a, b) for a, b in map(json.loads, ps)]).tolist())
            return [Verification(softmax([v[0], v[1]])[0], prov) for v, prov in answers]
        tpl = template("verify", self.versions.get("verify"))
        prompts = [tpl.render(**code_values(c), **passage_values(p)) for (p, _), c in zip(items, codes, strict=True)]
        if self.backend.name == "openai":
            schema = {"type": "object", "additionalProperties": False, "required": ["applies", "confidence"],
                      "properties": {"applies": {"type": "boolean"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}
            answers = self._cached("verify-json", tpl, prompts, schema, lambda ps: self.backend.complete_json(ps, schema))
            return [Verification(float(v["confidence"]) if v["applies"] else 1 - float(v["confidence"]), prov) for v, prov in answers]
        answers = self._cached("verify-choices", tpl, prompts, ["yes", "no"], lambda ps: self.backend.score_choices(ps, [["yes", "no"]] * len(ps)))
        return [Verification(softmax(v)[0], prov) for v, prov in answers]

    def rationale(self, items: list[tuple[Passage, str]], max_tokens: int = 80) -> list[tuple[str, Provenance]]:
        tpl = template("rationale", self.versions.get("rationale"))
        prompts = [tpl.render(**code_values(self.codebook[c]), **passage_values(p)) for p, c in items]
        return self._cached("rationale", tpl, prompts, max_tokens, lambda ps: self.backend.generate(ps, max_tokens))

    def name_cluster(self, keywords: list[str], passages: list[str]) -> tuple[dict[str, str], Provenance]:
        tpl = template("name_cluster", self.versions.get("name_cluster"))
        prompt = tpl.render(keywords=", ".join(keywords), passages="\n".join(f'- "{p}"' for p in passages))
        if self.backend.name == "openai":
            schema = {"type": "object", "additionalProperties": False, "required": ["name", "definition"],
                      "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 80}, "definition": {"type": "string", "minLength": 1}}}
            ((value, prov),) = self._cached("name-json", tpl, [prompt], schema, lambda ps: self.backend.complete_json(ps, schema))
            return value, prov
        ((text, prov),) = self._cached("name-text", tpl, [prompt + "\nName:"], 60, lambda ps: self.backend.generate(ps, 60))
        first, _, rest = text.strip().partition("\n")
        name = " ".join(first.split()[:5]).strip(" .:") or " / ".join(keywords[:2])
        return {"name": name, "definition": rest.replace("Definition:", "").strip() or f"Passages about {', '.join(keywords[:5])}."}, prov


RerankMode = Literal["uncertain", "topk", "all"]


def select_for_rerank(scores: np.ndarray, mode: RerankMode, *, low: float = 0.35, high: float = 0.65, k: int = 100) -> np.ndarray:
    """Indices of the suggestions the LLM should look at: uncertain ones (score in [low, high]), the
    k highest, or all."""
    scores = np.asarray(scores, dtype=float)
    if mode == "all":
        return np.arange(scores.size)
    if mode == "topk":
        return np.argsort(-scores, kind="stable")[:k]
    if mode == "uncertain":
        return np.flatnonzero((scores >= low) & (scores <= high))
    raise LLMError(f"unknown rerank mode {mode!r}; use uncertain, topk or all")


def combine(prior: float, p_llm: float, weight: float = 0.5) -> float:
    """The reranked score: a weighted mean of the embedding score and the LLM's P(applies)."""
    return (1 - weight) * prior + weight * p_llm
