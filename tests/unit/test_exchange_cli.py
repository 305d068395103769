"""`loupe import` / `loupe export`: a .qdpx in, the same selections out, and bad files as messages."""

from __future__ import annotations

from typer.testing import CliRunner

from models.exchange.qdpx import read_qdpx
from scripts.cli import app
from tests import refi_handmade as hm
from tests.conftest import shared_path

runner = CliRunner()


def test_import_then_export_from_the_command_line(isolated_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LOUPE_REFI_SCHEMA_DIR", str(shared_path("refi-qda")))
    src = tmp_path / "study.qdpx"
    src.write_bytes(hm.qdpx())
    data = ["--data-dir", str(tmp_path / "loupe")]
    result = runner.invoke(app, ["import", str(src), "--owner", "Lead", *data])
    assert result.exit_code == 0, result.output
    assert "4 codings as 6 decisions" in result.output and "PDFSource 'Annual report.pdf'" in result.output
    assert "Validated against" in result.output
    out = tmp_path / "back.qdpx"
    result = runner.invoke(app, ["export", "--project", "1", "--out", str(out), *data])
    assert result.exit_code == 0, result.output
    qp, check = read_qdpx(out.read_bytes(), schema_dir=shared_path("refi-qda"))
    assert check.validated and sum(len(s.codings) for s in qp.sources) == 4
    result = runner.invoke(app, ["export", "--project", "1", "--out", str(tmp_path / "book.qdc"), *data])
    assert result.exit_code == 0 and "5 codes" in result.output
    # an unchanged codebook makes no new version
    result = runner.invoke(app, ["import", str(tmp_path / "book.qdc"), "--project", "1", *data])
    assert result.exit_code == 0 and "Codebook version 1 " in result.output, result.output


def test_bad_files_are_clear_messages(isolated_env, tmp_path):
    junk = tmp_path / "junk.qdpx"
    junk.write_bytes(b"nope")
    data = ["--data-dir", str(tmp_path / "loupe")]
    for args, message in (
        (["import", str(junk), *data], "not a readable zip archive"),
        (["import", str(tmp_path / "absent.qdpx"), *data], "cannot be read"),
        (["import", str(tmp_path / "x.pdf"), *data], "expected a .qdpx project or a .qdc codebook"),
        (["export", "--project", "7", "--out", str(tmp_path / "o.qdpx"), *data], "project 7 does not exist"),
        (["export", "--project", "1", "--out", str(tmp_path / "o.zip"), *data], "name the output FILE.qdpx"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in " ".join(result.output.split()), (args, result.output)


def test_without_schemas_the_cli_says_validation_did_not_run(isolated_env, tmp_path, monkeypatch):
    import models.exchange.schema as schema_mod

    monkeypatch.setattr(schema_mod, "find_schema_dir", lambda explicit=None: None)
    src = tmp_path / "study.qdpx"
    src.write_bytes(hm.qdpx())
    result = runner.invoke(app, ["import", str(src), "--data-dir", str(tmp_path / "loupe")])
    assert result.exit_code == 0, result.output
    assert "not validated" in " ".join(result.output.split()) and "LOUPE_REFI_SCHEMA_DIR" in " ".join(result.output.split())
