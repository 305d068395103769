"""The YAML/JSON budget (models.structured) and the codebook loader that uses it: an alias bomb,
deep nesting and recursive aliases are refused before anything is built, with short messages."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from models.codebook import CodebookError, decode_codebook, load_codebook, parse_codebook
from models.structured import StructureError, StructureLimits, check_tree, check_yaml, load_text


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`a: &a [x, ...]`, `b: &b [*a, ...]`, ...: width ** levels leaves from ~330 bytes."""
    names = "abcdefghijklmnop"
    lines = ["name: bomb", "a: &a [" + ",".join(["x"] * width) + "]"]
    lines += [f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * width) + "]" for i in range(1, levels)]
    return "\n".join([*lines, f"codes: *{names[levels - 1]}"])


def test_alias_bomb_is_refused_at_once_with_a_short_message():
    text = alias_bomb()
    assert len(text.encode()) < 400
    started = time.perf_counter()
    with pytest.raises(StructureError) as err:
        load_text(text, "yaml")
    assert time.perf_counter() - started < 1.0
    assert "LOUPE_CODEBOOK_MAX_NODES" in str(err.value) and len(str(err.value)) < 300


def test_expanded_counts_match_the_built_value():
    """The event-stream count equals the count on the constructed value, aliases expanded."""
    docs = ["a: &a [1, 2]\nb: [*a, *a]", "x: &x {k: &y [1, [2, 3]], j: *y}\ny: [*x, *x, {z: *x}]",
            alias_bomb(levels=3, width=3)]
    for doc in docs:
        data = yaml.safe_load(doc)
        for limits in (StructureLimits(max_nodes=n) for n in range(1, 200)):
            try:
                check_tree(data, limits)
            except StructureError:
                with pytest.raises(StructureError):
                    check_yaml(doc, limits)
            else:
                check_yaml(doc, limits)
        for depth in range(1, 8):
            limits = StructureLimits(max_depth=depth)
            tree_ok = _passes(check_tree, data, limits)
            assert tree_ok == _passes(check_yaml, doc, limits), (doc, depth)


def _passes(check, value, limits) -> bool:  # type: ignore[no-untyped-def]
    try:
        check(value, limits)
    except StructureError:
        return False
    return True


@pytest.mark.parametrize("text, reason", [
    ("a: &a [*a]", "recursive alias"),
    ("a: *b", "before its anchor"),
    ("[" * 100 + "1" + "]" * 100, "LOUPE_CODEBOOK_MAX_DEPTH"),
    ("!!python/object/apply:os.system ['true']", "not valid YAML"),
    ("a: [", "not valid YAML"),
    ("a: &s " + "x" * 2000 + "\nb: [" + ",".join(["*s"] * 20) + "]", "LOUPE_CODEBOOK_MAX_CHARS"),
])
def test_unsafe_yaml_is_refused(text, reason):
    with pytest.raises(StructureError, match=reason):
        load_text(text, "yaml", StructureLimits(max_chars=10_000))


def test_json_depth_and_size():
    with pytest.raises(StructureError, match="LOUPE_CODEBOOK_MAX_DEPTH"):
        load_text("[" * 100_000 + "]" * 100_000, "json")  # past the decoder's own recursion limit
    with pytest.raises(StructureError, match="LOUPE_CODEBOOK_MAX_NODES"):
        load_text(json.dumps({"codes": [0] * 1000}), "json", StructureLimits(max_nodes=500))
    assert load_text('{"a": [1, {"b": null}]}', "json") == {"a": [1, {"b": None}]}


def test_codebook_files_use_the_budget(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    with pytest.raises(CodebookError, match="bomb.yaml.*LOUPE_CODEBOOK_MAX_NODES"):
        load_codebook(bomb)
    with pytest.raises(CodebookError, match="a mapping"):
        decode_codebook("[1, 2]", "yaml", origin="list.yaml")
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: Small\ncodes:\n  - {id: a, name: A, definition: &d Something.}\n  - {id: b, name: B, definition: *d}\n")
    assert [c.definition for c in load_codebook(ok)] == ["Something.", "Something."]


def test_validation_errors_are_few_and_short():
    """A large invalid document names at most ten problems, none quoting more than 200 characters."""
    data = {"name": "x", "codes": [{"id": "a", "name": "A", "definition": "d", "include": [["y" * 1000] * 100]}] * 5000}
    with pytest.raises(CodebookError) as err:
        parse_codebook(data)
    message = str(err.value)
    assert len(message) < 4000 and "(and more)" in message


def test_deeply_nested_codes_are_a_codebook_error_not_a_crash():
    code: dict = {"id": "leaf", "name": "Leaf", "definition": "d"}
    for i in range(400):
        code = {"id": f"c{i}", "name": "C", "definition": "d", "children": [code]}
    with pytest.raises(CodebookError, match="nested too deeply"):
        parse_codebook({"name": "deep", "codes": [code]})
