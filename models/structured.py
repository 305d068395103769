"""YAML and JSON documents read from untrusted text, within a budget.

Invariant: nothing is built from the text until the document is known to fit the budget, counted
as it would be once expanded. YAML aliases make a few hundred bytes stand for billions of nodes
(`b: &b [*a, *a, ...]`, nine levels deep), and deep nesting makes the recursive constructors (and
any validator after them) overflow the stack; both are refused with a short StructureError that
never quotes the document. YAML is checked on its event stream (PyYAML's parser is iterative):
each anchored node's expanded size and depth are recorded when it ends, and each alias adds them,
so the check costs one pass over the text whatever the aliases would expand to. JSON has no
aliases; its depth and node count are checked on the decoded value, iteratively.

    >>> load_text("a: &a [1, 2]\\nb: [*a, *a]", "yaml")
    {'a': [1, 2], 'b': [[1, 2], [1, 2]]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from models.base import LoupeError


class StructureError(LoupeError):
    """A YAML/JSON document is unreadable or over the budget; the message says which limit."""


@dataclass(frozen=True)
class StructureLimits:
    """The budget of one document, counted after alias expansion.

    max_nodes: mappings, sequences and scalars (a mapping's keys count); max_depth: nesting of
    mappings and sequences (a flat mapping is 1); max_chars: characters of all scalars.
    """

    max_nodes: int = 200_000
    max_depth: int = 64
    max_chars: int = 20_000_000


DEFAULT_LIMITS = StructureLimits()


def _over(what: str, limit: int, setting: str) -> StructureError:
    return StructureError(f"the document {what.format(f'{limit:,}')}, over the limit ({setting}): refused before it was built")


def check_yaml(text: str, limits: StructureLimits = DEFAULT_LIMITS) -> None:
    """Refuse (StructureError) YAML whose expanded form is over `limits`, a recursive alias, or
    YAML that does not parse; builds nothing."""
    import yaml
    from yaml import events as ev

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nodes = chars = 0
    anchors: dict[str, tuple[int, int, int]] = {}  # anchor -> (nodes, chars, depth) of its node, expanded
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # per open collection: [anchor, nodes, chars, depth] beneath it

    def add(n: int, c: int, d: int) -> None:
        nonlocal nodes, chars
        nodes += n
        chars += c
        if nodes > limits.max_nodes:
            raise _over("expands to more than {} nodes", limits.max_nodes, "LOUPE_CODEBOOK_MAX_NODES")
        if chars > limits.max_chars:
            raise _over("expands to more than {} characters", limits.max_chars, "LOUPE_CODEBOOK_MAX_CHARS")
        if len(stack) + d > limits.max_depth:
            raise _over("nests more than {} levels deep", limits.max_depth, "LOUPE_CODEBOOK_MAX_DEPTH")
        if stack:
            top = stack[-1]
            top[1] += n
            top[2] += c
            top[3] = max(top[3], d)

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, ev.ScalarEvent):
                add(1, len(event.value), 0)
                if event.anchor:
                    anchors[event.anchor] = (1, len(event.value), 0)
            elif isinstance(event, ev.CollectionStartEvent):
                add(1, 0, 1)  # the collection itself, in its parent
                stack.append([event.anchor, 0, 0, 0])
                if event.anchor:
                    open_anchors.add(event.anchor)
            elif isinstance(event, ev.CollectionEndEvent):
                anchor, n, c, d = stack.pop()
                if stack:  # what lies beneath the collection, passed on to its parent
                    top = stack[-1]
                    top[1] += n
                    top[2] += c
                    top[3] = max(top[3], d + 1)
                if anchor:
                    anchors[anchor] = (n + 1, c, d + 1)
                    open_anchors.discard(anchor)
            elif isinstance(event, ev.AliasEvent):
                if event.anchor in open_anchors:
                    raise StructureError(f"the document has a recursive alias (*{event.anchor} inside its own anchor): refused")
                if event.anchor not in anchors:
                    raise StructureError(f"the document uses an alias (*{event.anchor}) before its anchor")
                add(*anchors[event.anchor])
    except yaml.YAMLError as exc:
        raise StructureError(f"not valid YAML: {str(exc)[:300]}") from None


def check_tree(data: Any, limits: StructureLimits = DEFAULT_LIMITS) -> None:
    """Refuse (StructureError) a decoded value (dicts, lists, scalars) over `limits`; iterative,
    stops at the first limit passed. Shared objects are counted each time they occur."""
    nodes = chars = 0
    todo: list[tuple[Any, int]] = [(data, 0)]
    while todo:
        item, depth = todo.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise _over("holds more than {} nodes", limits.max_nodes, "LOUPE_CODEBOOK_MAX_NODES")
        if isinstance(item, dict | list):
            if depth + 1 > limits.max_depth:
                raise _over("nests more than {} levels deep", limits.max_depth, "LOUPE_CODEBOOK_MAX_DEPTH")
            if isinstance(item, dict):
                nodes += len(item)  # the keys
                chars += sum(len(k) for k in item if isinstance(k, str))
                todo.extend((v, depth + 1) for v in item.values())
            else:
                todo.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            chars += len(item)
        if chars > limits.max_chars:
            raise _over("holds more than {} characters", limits.max_chars, "LOUPE_CODEBOOK_MAX_CHARS")


def load_text(text: str, fmt: Literal["yaml", "json"], limits: StructureLimits = DEFAULT_LIMITS) -> Any:
    """The value a YAML or JSON document holds, once it is known to fit `limits`.
    Raises StructureError with the reason (never quoting the document at length)."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except RecursionError:
            raise _over("nests more than {} levels deep", limits.max_depth, "LOUPE_CODEBOOK_MAX_DEPTH") from None
        except ValueError as exc:
            raise StructureError(f"not valid JSON: {str(exc)[:300]}") from None
        check_tree(data, limits)
        return data
    import yaml

    check_yaml(text, limits)
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:  # constructor errors: an unknown tag, a bad timestamp
        raise StructureError(f"not valid YAML: {str(exc)[:300]}") from None
