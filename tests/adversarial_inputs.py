"""Hostile inputs for the hardening tests (issue 22), built in memory: a YAML alias bomb, a long
text of many paragraphs, and a .qdpx that inflates about fifty-fold (within the archive's ratio
limit, so only the import's own budget stands in its way)."""

from __future__ import annotations

import random

from models.exchange.qda import QdaCode, QdaCoding, QdaProject, QdaSource, QdaUser, stable_guid
from models.exchange.qdpx import write_qdpx

WORDS = "the trust board met partners and agreed that power control leadership care was shared across sector lines".split()


def alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    """`a: &a [x, ...]`, `b: &b [*a, ...]`, ..., `codes: *i`: about 330 bytes standing for width ** levels nodes."""
    names = "abcdefghijklmnop"
    lines = ["name: bomb", "a: &a [" + ",".join(["x"] * width) + "]"]
    lines += [f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * width) + "]" for i in range(1, levels)]
    return "\n".join([*lines, f"codes: *{names[levels - 1]}", ""]).encode()


def paragraphs(n: int, words: int = 10, seed: int = 0) -> str:
    """n paragraphs of `words` words each, separated by blank lines."""
    rng = random.Random(seed)
    return "\n\n".join(" ".join(rng.choices(WORDS, k=words)).capitalize() + "." for _ in range(n))


def inflating_qdpx(mb: float, sources: int = 4, seed: int = 0) -> bytes:
    """A valid .qdpx whose sources hold `mb` MB of text drawn from 16 paragraphs, so it deflates
    about fifty-fold; each source carries one coding."""
    rng = random.Random(seed)
    pool = [" ".join(rng.choices(WORDS, k=60)) for _ in range(16)]
    per = int(mb * 1e6 / sources) // (len(pool[0]) + 2) + 1
    user, code = QdaUser(stable_guid("user"), "alice"), QdaCode(stable_guid("code"), "Trust")
    srcs = []
    for k in range(sources):
        text = "\n\n".join(rng.choices(pool, k=per))
        source = QdaSource(guid=stable_guid("source", k), name=f"doc{k}", text=text, kind="txt")
        source.codings.append(QdaCoding(guid=stable_guid("coding", k), code=code.guid, start=0, end=200,
                                        selection=stable_guid("selection", k), user=user.guid))
        srcs.append(source)
    data, _ = write_qdpx(QdaProject(name="inflating", origin="test", users=[user], codes=[code], sources=srcs), schema_dir=None)
    return data
