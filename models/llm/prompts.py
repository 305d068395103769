"""Versioned prompt templates, shipped in models/llm/prompts/NAME.vN.txt.

A template is `string.Template` text ($name placeholders). Its version is in the file name and
its sha256 is recorded with every output it produced, so a methods section can name the exact
prompt, and a changed template never passes for an old one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from models.codebook import Code, Codebook
from models.llm.errors import LLMError


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def ref(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, **values: str) -> str:
        try:
            return Template(self.text).substitute(values).rstrip()
        except KeyError as exc:
            raise LLMError(f"prompt {self.ref} needs a value for {exc.args[0]!r}") from None


@cache
def template(name: str, version: int | None = None) -> PromptTemplate:
    """The template `name` at `version` (default: the newest shipped)."""
    files = {f.name: f for f in resources.files("models.llm").joinpath("prompts").iterdir()}
    versions = sorted(int(m.group(1)) for f in files if (m := re.fullmatch(rf"{re.escape(name)}\.v(\d+)\.txt", f)))
    if not versions:
        raise LLMError(f"no prompt template named {name!r}; shipped: {', '.join(sorted(files))}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise LLMError(f"prompt {name!r} has versions {versions}, not {chosen}")
    return PromptTemplate(name, chosen, files[f"{name}.v{chosen}.txt"].read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Passage:
    """A segment in its context, as prompts show it."""

    text: str
    speaker: str | None = None
    before: str = ""
    after: str = ""


def _lines(items: tuple[str, ...] | list[str], empty: str = "(none given)") -> str:
    return "\n".join(f"- {x}" for x in items) if items else empty


def codebook_text(codebook: Codebook, *, examples: int = 2) -> str:
    """Every code with its definition, criteria and a few examples: what the deductive prompt lists."""
    out = []
    for code in codebook:
        depth = code.path.count("/")
        pad = "  " * depth
        out.append(f"{pad}- {code.path}: {code.name}. {code.definition}")
        if code.include:
            out.append(f"{pad}  Apply when: " + "; ".join(code.include))
        if code.exclude:
            out.append(f"{pad}  Not when: " + "; ".join(code.exclude))
        for ex in code.examples[:examples]:
            out.append(f'{pad}  Example: "{ex}"')
    return "\n".join(out)


def passage_values(p: Passage) -> dict[str, str]:
    return {"passage": p.text, "speaker": p.speaker or "unknown", "before": p.before or "(start of document)", "after": p.after or "(end of document)"}


def code_values(code: Code) -> dict[str, str]:
    return {"code_name": code.name, "code_id": code.path, "definition": code.definition, "include": "; ".join(code.include) or "(no criteria given)",
            "exclude": "; ".join(code.exclude) or "(no criteria given)", "examples": _lines(code.examples)}
