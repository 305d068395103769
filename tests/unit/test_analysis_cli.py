"""`loupe matrix` and its mistakes, on a project imported from the hand-written .qdpx."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from scripts.cli import app
from tests import refi_handmade as hm

runner = CliRunner()


def test_matrix_from_the_command_line(isolated_env, tmp_path):
    src = tmp_path / "study.qdpx"
    src.write_bytes(hm.qdpx())
    assert runner.invoke(app, ["import", str(src), "--owner", "Lead"]).exit_code == 0
    out = tmp_path / "m"
    result = runner.invoke(app, ["matrix", "--project", "1", "--rows", "top", "--cols", "document:Sector", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "matrix.json").read_text())
    # Interview 1 (Sector: Voluntary): trust on turns 1 and 2 (Alice, Bob), funding leverage under power on both
    assert data["rows"] == ["trust", "power"] and data["cols"] == ["document:Sector=Voluntary"] and data["counts"] == [[2], [2]]
    assert list(csv.reader(open(out / "matrix.csv", encoding="utf-8"))) == [["", "document:Sector=Voluntary"], ["trust", "2"], ["power", "2"]]
    assert (out / "matrix.png").read_bytes()[:4] == b"\x89PNG"
    for args, message in ((["--measure", "coders"], "'coders' is not one of"), (["--rows", "nope"], "unknown code 'nope'")):
        bad = runner.invoke(app, ["matrix", "--project", "1", "--out", str(out), *args])
        assert bad.exit_code == 2 and message in " ".join(bad.output.split()), bad.output
