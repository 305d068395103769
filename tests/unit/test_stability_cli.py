"""`loupe stability`: the real model coder run K times on a small table, with human codings beside
it (issue 24, item 5)."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from scripts.cli import app

runner = CliRunner()

TEXTS = [
    ("trust", "We trust the council officers; they always call back when they say they will."),
    ("trust", "I rely on the practice manager, she has never let us down."),
    ("power", "The funding comes with strings and they know we need the money."),
    ("power", "The hospital holds all the cards when contracts are renewed."),
    ("control", "Every decision has to go up to the board before we can act."),
    ("control", "Targets are set nationally and we just report against them."),
    ("leadership", "Our chief executive built the partnership from nothing."),
    ("leadership", "Clinicians lead the change here, not the managers."),
]


def _inputs(tmp_path):
    texts, codings = tmp_path / "texts.csv", tmp_path / "codings.csv"
    with open(texts, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "sector", "text"])
        for i in range(24):
            code, text = TEXTS[i % len(TEXTS)]
            w.writerow([f"u{i}", "voluntary" if i % 2 else "NHS", f"{text} ({i})"])
    with open(codings, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["unit", "coder", "code"])
        for i in range(24):
            code = TEXTS[i % len(TEXTS)][0]
            w.writerow([f"u{i}", "ann", code])
            w.writerow([f"u{i}", "ben", code if i % 5 else "trust"])
            w.writerow([f"u{i}", "loupe", code])  # the model's own codings, left out of the humans
    return texts, codings


def test_stability_report_on_a_small_table(tmp_path):
    texts, codings = _inputs(tmp_path)
    out = tmp_path / "stab"
    result = runner.invoke(app, ["stability", str(texts), "--codings", str(codings), "--model", "loupe", "-k", "3",
                                 "--bootstrap", "0", "--min-n", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "stability.json").read_text())
    assert report["units"] == 24 and len(report["runs"]) == 3 and report["human_coders"] == 2
    assert [round(r["threshold"], 3) for r in report["runs"]] == [0.5, 0.45, 0.55]
    assert "trust" in report["codes"] and report["human"]["trust"]["n_coders"] == 2
    for code in report["codes"]:
        r = report["retest"][code]
        assert len(r["applied"]) == 3 and 0 <= r["units_changed"] <= 24
    assert {d["attribute"] for d in report["directions"]} == {"sector"}
    assert report["directions_summary"]["tested"] == 2 * len(report["codes"])
    assert "test-retest" in result.output and "Directions:" in result.output


def test_bad_options_are_messages(tmp_path):
    texts, codings = _inputs(tmp_path)
    result = runner.invoke(app, ["stability", str(texts), "--code-map", "4", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "HUMAN=MODEL" in result.output
    result = runner.invoke(app, ["stability", str(texts), "--perturb", "prompt", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown perturbation" in result.output
    other = tmp_path / "other.csv"
    other.write_text("unit,coder,code\nx1,ann,trust\nx1,ben,trust\n", encoding="utf-8")  # units the texts lack
    result = runner.invoke(app, ["stability", str(texts), "--codings", str(other), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no units to code" in " ".join(result.output.split())


def test_agree_with_model_gives_the_stability_report_too(tmp_path):
    texts, codings = _inputs(tmp_path)
    out = tmp_path / "agree"
    result = runner.invoke(app, ["agree", str(codings), "--model", "loupe", "--stability", "3", "--out", str(out)])
    assert result.exit_code == 2 and "--texts" in result.output
    result = runner.invoke(app, ["agree", str(codings), "--model", "loupe", "--stability", "2", "--texts", str(texts),
                                 "--bootstrap", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "agreement.json").exists() and "The model as a coder" in result.output
    report = json.loads((out / "stability.json").read_text())
    assert len(report["runs"]) == 2 and report["human_coders"] == 2 and "test-retest" in result.output
