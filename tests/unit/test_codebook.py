"""Codebook files: the seed, user files, and clear errors for bad ones."""

from __future__ import annotations

import json

import pytest

from models.codebook import (
    CodebookError,
    load_codebook,
    parse_codebook,
    resolve_codebook,
)


def test_seed_codebook_has_the_four_families(seed):
    top = [c.path for c in seed if c.parent is None]
    assert top == ["trust", "power", "control", "leadership"]
    assert {"trust/personal", "trust/organisational", "trust/built-over-time", "trust/policy-goal"} <= set(seed.codes)
    assert {"control/top-down", "control/bottom-up", "control/middle-out"} <= set(seed.codes)
    assert len([c for c in seed if c.parent == "leadership"]) == 6
    for code in seed:
        assert code.definition and code.examples and code.include, code.path
    assert seed["trust"].children[0] == "trust/personal"
    assert seed.ancestors("power/funding") == ["power"]


def test_yaml_and_json_files_load_identically(tmp_path):
    data = {"name": "Mine", "codes": [{"id": "a", "name": "A", "definition": "Def.", "children": [
        {"id": "b", "name": "B", "definition": "Child.", "examples": ["x"]}]}]}
    (tmp_path / "c.json").write_text(json.dumps(data), encoding="utf-8")
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    a, b = load_codebook(tmp_path / "c.json"), load_codebook(tmp_path / "c.yaml")
    assert list(a.codes) == ["a", "a/b"] and a.fingerprint == b.fingerprint
    assert resolve_codebook(tmp_path / "c.yaml").name == "Mine"


def test_schema_errors_name_the_place():
    bad = {"name": "x", "codes": [{"id": "Bad Id", "name": "", "definition": "d", "children": [{"id": "y"}]}]}
    with pytest.raises(CodebookError) as info:
        parse_codebook(bad, origin="mine.yaml")
    msg = str(info.value)
    assert "mine.yaml is not a valid codebook" in msg
    assert "codes[0].id" in msg and "codes[0].children[0]: 'definition' is a required property" in msg


def test_duplicate_ids_and_unknown_codes():
    with pytest.raises(CodebookError, match="appears twice"):
        parse_codebook({"name": "x", "codes": [{"id": "a", "name": "A", "definition": "d"}] * 2})
    cb = parse_codebook({"name": "x", "codes": [{"id": "a", "name": "A", "definition": "d"}]})
    with pytest.raises(CodebookError, match="unknown code 'zz'"):
        cb["zz"]


@pytest.mark.parametrize("name,content,message", [
    ("c.yaml", "name: [unclosed", "not valid YAML"),
    ("c.json", "{", "not valid JSON"),
    ("c.txt", "name: x", "must be a .yaml"),
])
def test_unreadable_files(tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(CodebookError, match=message):
        load_codebook(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(CodebookError, match="no such codebook file"):
        load_codebook(tmp_path / "nope.yaml")


def test_exclusive_flag():
    one = [{"id": "a", "name": "A", "definition": "d"}, {"id": "b", "name": "B", "definition": "e"}]
    assert parse_codebook({"name": "x", "codes": one}).exclusive is False
    book = parse_codebook({"name": "x", "exclusive": True, "codes": one})
    assert book.exclusive is True
    assert book.fingerprint != parse_codebook({"name": "x", "codes": one}).fingerprint  # a different codebook version
    with pytest.raises(CodebookError, match="exclusive"):
        parse_codebook({"name": "x", "exclusive": "yes", "codes": one})
