"""`loupe agree` end to end: files in, tables, JSON and a heatmap out; the Benoit crowd data."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from scripts.cli import app
from tests.conftest import shared_path

runner = CliRunner()


def _write_long(path, rows, header=("unit", "coder", "code")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_long_multilabel_with_model_and_spans(tmp_path):
    rows = []
    for u in range(30):
        for coder in ("ann", "bob", "model"):
            code = "trust" if u % 2 == 0 else "power"
            if coder == "bob" and u % 6 == 0:
                code = "power"
            start = 10 if coder != "model" else 12
            rows.append((f"doc{u % 3}", coder, code, start + u * 100, start + u * 100 + 50))
    _write_long(tmp_path / "c.csv", rows, ("unit", "coder", "code", "start", "end"))
    out = tmp_path / "out"
    res = runner.invoke(app, ["agree", str(tmp_path / "c.csv"), "--model", "model", "--per-coder", "--bootstrap", "200",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Per code" in text and "The model as a coder" in text and "Span level" in text
    data = json.loads((out / "agreement.json").read_text())
    assert data["coders"] == ["ann", "bob", "model"] and set(data["codes"]) == {"power", "trust"}
    assert data["per_code"]["trust"]["cohen"]["ci_low"] is not None
    assert {m["code"] for m in data["model"]} == {"power", "trust", "(pooled)"}
    assert "unitized_alpha" in data["spans"]
    assert data["per_coder"] == {}  # 3 units: below the 10 a per-coder estimate needs
    assert (out / "heatmaps.png").stat().st_size > 1000


def test_per_coder_on_multilabel_codings(tmp_path):
    rows = []
    for u in range(20):
        for coder in ("ann", "bob", "cat"):
            rows.append((f"u{u}", coder, "trust" if u % 2 or coder == "cat" else ""))
            if u % 4 == 0:
                rows.append((f"u{u}", coder, "power"))
    _write_long(tmp_path / "m.csv", rows)
    res = runner.invoke(app, ["agree", str(tmp_path / "m.csv"), "--per-coder", "--bootstrap", "0", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    per = json.loads((tmp_path / "o" / "agreement.json").read_text())["per_coder"]
    assert set(per) == {"ann", "bob", "cat"} and per["ann"]["units"] == 20
    assert per["ann"]["krippendorff"] > per["cat"]["krippendorff"]  # cat codes trust everywhere


def test_wide_single_label_with_level(tmp_path):
    with open(tmp_path / "w.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["unit", "A", "B", "C", "D"])
        for i, row in enumerate(zip([1, 2, 3, 3, 2, 1, 4, 1, 2, "", "", ""], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, "", 3],
                                    ["", 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, ""], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, ""], strict=False)):
            w.writerow([i, *row])
    res = runner.invoke(app, ["agree", str(tmp_path / "w.csv"), "--wide", "--level", "interval", "-m", "krippendorff",
                              "--bootstrap", "0", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "agreement.json").read_text())
    assert round(data["overall"]["krippendorff"]["value"], 3) == 0.849  # Krippendorff (2011), interval


@pytest.mark.parametrize("args,message", [
    (["missing.csv"], "missing.csv: no such file"),
    (["{f}", "--coder-column", "rater"], "missing column(s) rater"),
    (["{f}", "-m", "tau"], "unknown metric 'tau'"),
    (["{f}", "--where", "nocolumn"], "write it as column=value"),
    (["{f}", "--level", "fancy"], "'fancy' is not one of"),
])
def test_errors(tmp_path, args, message):
    _write_long(tmp_path / "c.csv", [("u1", "a", "x"), ("u1", "b", "x")])
    res = runner.invoke(app, ["agree", *[a.format(f=tmp_path / "c.csv") for a in args], "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output


def test_benoit_crowd_immigration_per_worker(tmp_path):
    judgments = shared_path("datasets", "benoit2016_crowd_immigration", "judgments.csv")
    out = tmp_path / "benoit"
    res = runner.invoke(app, [
        "agree", str(judgments), "--unit-column", "sentenceid", "--coder-column", "worker_id",
        "--code-column", "policy_area", "--where", "unit_is_gold=false", "--per-coder", "--repeated", "first",
        "-m", "percent", "-m", "fleiss", "-m", "krippendorff", "-m", "gwet", "--bootstrap", "200", "--out", str(out),
    ])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "agreement.json").read_text())
    assert data["single_label"] and len(data["coders"]) > 50 and data["units"] > 6000
    assert data["conflicting_repeats"] > 0 and "coded more than once" in " ".join(res.output.split())
    alpha = data["overall"]["krippendorff"]
    assert 0.3 < alpha["value"] < 0.95 and alpha["ci_low"] < alpha["value"] < alpha["ci_high"]
    assert len(data["per_coder"]) > 30
    assert "Each coder against the majority of the others" in " ".join(res.output.split())
    assert "median α against the rest" in res.output
