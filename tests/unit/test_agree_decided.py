"""`loupe agree` on decided codings (a value column, as Loupe's export/codings writes them), Parquet
input, weights on the command line, the multi-label note and paged heatmaps (issue 24)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from eval.agree_files import AgreeOptions, analyse, read_codings
from eval.codings import build_table
from scripts.cli import app

runner = CliRunner()
HEADER = ["unit", "coder", "code", "value"]


def _decided_rows(n_units: int = 30, codes: int = 3) -> list[dict[str, object]]:
    rng = np.random.default_rng(7)
    rows: list[dict[str, object]] = []
    for u in range(n_units):
        for coder in ("ann", "bob"):
            for k in range(codes):
                if rng.random() < 0.25:
                    continue  # this coder did not decide this code on this unit: missing, not "no"
                truth = (u + k) % 3 == 0
                value = truth if rng.random() < 0.85 else not truth
                rows.append({"unit": str(u), "coder": coder, "code": f"c{k}", "value": int(value)})
    return rows


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_value_column_makes_undecided_codes_missing(tmp_path):
    rows = [{"unit": "1", "coder": "ann", "code": "trust", "value": 1}, {"unit": "1", "coder": "ann", "code": "power", "value": 0},
            {"unit": "1", "coder": "bob", "code": "trust", "value": 1}]
    _write_csv(tmp_path / "d.csv", rows)
    codings, _ = read_codings(AgreeOptions(path=tmp_path / "d.csv"))
    table = build_table(codings)
    assert table.codes == ["power", "trust"] and not table.single_label
    # bob never decided "power" on unit 1: missing (-1), not "no" (0); ann rejected it: 0
    assert table.presence[0, table.coders.index("bob"), 0] == -1
    assert table.presence[0, table.coders.index("ann"), 0] == 0
    assert table.presence[0, table.coders.index("bob"), 1] == 1


def test_csv_jsonl_and_parquet_give_the_same_answer(tmp_path):
    rows = _decided_rows()
    _write_csv(tmp_path / "d.csv", rows)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    results = [analyse(AgreeOptions(path=tmp_path / f"d.{ext}", n_boot=100)).as_dict() for ext in ("csv", "jsonl", "parquet")]
    pooled = [r["per_code"]["(pooled)"]["krippendorff"] for r in results]
    assert pooled[0]["value"] is not None and pooled[0] == pooled[1] == pooled[2]
    assert pooled[0]["interval_method"] == "percentile bootstrap" and pooled[0]["n_pairable"] > 20


def test_bad_value_is_a_clear_error(tmp_path):
    _write_csv(tmp_path / "d.csv", [{"unit": "1", "coder": "ann", "code": "x", "value": "maybe"}])
    res = runner.invoke(app, ["agree", str(tmp_path / "d.csv"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "value must be 1/0" in " ".join(res.output.split())


def test_weights_and_categories_on_the_command_line(tmp_path):
    # Gwet (2014): the 3x3 abstractors table, categories in the order Ectopic, AIU, NIU; linearly
    # weighted kappa 0.843. Sorted alphabetically (AIU, Ectopic, NIU) the order, and so the value, differ.
    table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    names = ["Ectopic", "AIU", "NIU"]
    rows = []
    u = 0
    for i in range(3):
        for j in range(3):
            for _ in range(table[i][j]):
                rows.append({"unit": u, "a": names[i], "b": names[j]})
                u += 1
    _write_csv(tmp_path / "w.csv", rows)
    out = tmp_path / "o"
    res = runner.invoke(app, ["agree", str(tmp_path / "w.csv"), "--wide", "--weights", "linear", "--categories", "Ectopic,AIU,NIU",
                              "-m", "cohen", "-m", "gwet", "--bootstrap", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "agreement.json").read_text())
    assert round(data["overall"]["cohen"]["value"], 3) == 0.843
    assert data["weights"] == "linear" and data["weight_distance"] == "index"
    bad = runner.invoke(app, ["agree", str(tmp_path / "w.csv"), "--wide", "--weights", "cubic", "-o", str(out)])
    # typer's choice message, wrapped inside a box at the terminal's width
    assert bad.exit_code == 2 and "'cubic' is not one of 'linear'," in bad.output and "'quadratic'" in bad.output


def test_small_n_flag_shown_and_multilabel_note_is_not_an_error(tmp_path):
    rows = []
    for u in range(4):  # 4 units, both coders apply both codes: multi-label, perfect agreement
        for coder in ("ann", "bob"):
            rows += [{"unit": u, "coder": coder, "code": "trust"}, {"unit": u, "coder": coder, "code": "power" if u % 2 else ""}]
    _write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "o"
    res = runner.invoke(app, ["agree", str(tmp_path / "m.csv"), "-m", "krippendorff", "--bootstrap", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "multi-label coding, analysed per code" in text and "coded more than once" not in text
    assert "† small n" in text
    data = json.loads((out / "agreement.json").read_text())
    power = data["per_code"]["power"]["krippendorff"]
    assert power["small_n"] and power["interval_method"].startswith("small n") and power["ci_low"] < 1.0


def test_heatmaps_draw_every_code_in_pages(tmp_path):
    rows = [r for r in _decided_rows(n_units=25, codes=14)]
    _write_csv(tmp_path / "d.csv", rows)
    res = analyse(AgreeOptions(path=tmp_path / "d.csv", n_boot=0, metrics=("cohen",), out_dir=tmp_path / "o"))
    pngs = sorted(p.name for p in res.files if p.suffix == ".png")
    assert pngs == ["heatmaps-2.png", "heatmaps.png"]  # 14 codes: 12 panels, then 2
    assert all((tmp_path / "o" / p).stat().st_size > 10_000 for p in pngs)


def test_loupe_agree_reproduces_weighted_kappa_examples(tmp_path):
    """The published weighted-kappa values through `loupe agree` itself (sources cited in
    tests/unit/test_agreement_weighted.py): R irr kappa2(anxiety[,2:3], "equal") 0.1459075 and
    "squared" 0.2520325 (index distance), 0.1262 by value distance; scikit-learn's weighting
    example, linear 0.9412 and quadratic 0.9541."""
    from tests.unit.test_agreement_weighted import ANXIETY

    def run(rows, *args):
        _write_csv(tmp_path / "w.csv", rows)
        out = tmp_path / "o"
        res = runner.invoke(app, ["agree", str(tmp_path / "w.csv"), "--wide", "-m", "cohen", "--bootstrap", "0", "-o", str(out), *args])
        assert res.exit_code == 0, res.output
        return json.loads((out / "agreement.json").read_text())["overall"]["cohen"]["value"]

    anxiety = [{"unit": i, "rater2": int(a), "rater3": int(b)} for i, (a, b) in enumerate(ANXIETY[:, 1:])]
    assert round(run(anxiety, "--weights", "linear"), 7) == 0.1459075
    assert round(run(anxiety, "--weights", "quadratic"), 7) == 0.2520325
    assert round(run(anxiety, "--weights", "linear", "--weight-distance", "value"), 4) == 0.1262
    y1 = [0] * 46 + [1] * 44 + [2] * 10
    y2 = [0] * 50 + [1] * 40 + [2] * 10
    sk = [{"unit": i, "a": a, "b": b} for i, (a, b) in enumerate(zip(y1, y2, strict=True))]
    assert round(run(sk, "--weights", "linear"), 4) == 0.9412
    assert round(run(sk, "--weights", "quadratic"), 4) == 0.9541
