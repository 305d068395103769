"""The command line's messages: settings errors name the option or variable (no pydantic dump),
choices are shown, --version, a re-run names what differs, a missing project names the database
read, and a run that skipped files exits 3 (docs/coding.md lists the exit codes)."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from scripts.cli import app
from tests.conftest import SAMPLE

runner = CliRunner()


def _said(result: Result) -> str:
    return " ".join(result.output.split())  # rich wraps at the terminal's width


def test_settings_errors_name_the_option_or_variable(isolated_env, monkeypatch):
    monkeypatch.chdir(isolated_env)
    bad_option = runner.invoke(app, ["code", str(SAMPLE), "--out", "o", "--threshold", "1.5"])
    assert bad_option.exit_code == 2 and "--threshold 1.5: input should be less than or equal to 1" in _said(bad_option)
    monkeypatch.setenv("LOUPE_THRESHOLD", "abc")
    bad_env = runner.invoke(app, ["code", str(SAMPLE), "--out", "o"])
    assert bad_env.exit_code == 2 and "LOUPE_THRESHOLD='abc': input should be a valid number" in _said(bad_env)
    served = runner.invoke(app, ["serve", "--port", "99999"])
    assert served.exit_code == 2 and "--port 99999" in _said(served)
    for result in (bad_option, bad_env, served):
        assert "pydantic" not in result.output and "https://" not in result.output and "Traceback" not in result.output


def test_version_and_choices(isolated_env):
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("loupe ")
    shown = _said(runner.invoke(app, ["code", "--help"]))
    for choices in ("<skip|fail>", "<jsonl|parquet>", "<local|ray>"):
        assert choices in shown, choices


def test_a_missing_project_names_the_database_it_read(isolated_env):
    result = runner.invoke(app, ["export", "--project", "7", "--out", str(isolated_env / "p.qdpx")])
    db = isolated_env / "loupe-data" / "loupe.db"
    assert result.exit_code == 2, result.output
    squeezed = "".join(result.output.split())  # rich may wrap the long path anywhere
    assert f"project7doesnotexistinsqlite:///{db}" in squeezed
    assert "--data-dir" in _said(result)


def test_a_rerun_names_what_differs(isolated_env):
    corpus = isolated_env / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("We trusted the council.\n\nThe funding was cut.", encoding="utf-8")
    out = isolated_env / "o"
    first = runner.invoke(app, ["code", str(corpus), "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["code", str(corpus), "--out", str(out), "--quiet", "--threshold", "0.9"])
    assert again.exit_code == 2 and "holds a run with different settings" in _said(again), again.output
    assert "codebook" not in _said(again) and "inputs" not in _said(again)


def test_a_missing_input_is_named_before_the_model_loads(isolated_env, monkeypatch):
    import service.pipeline

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(service.pipeline, "build_embedder", no_model)
    result = runner.invoke(app, ["code", str(isolated_env / "nonexistent"), "--out", str(isolated_env / "o")])
    assert result.exit_code == 2 and "nonexistent:nosuchfileorfolder" in "".join(result.output.split()), result.output
