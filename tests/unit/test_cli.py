"""The `loupe` command line: demo, errors as messages, and resuming after Ctrl-C or kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cli import app
from scripts.cli_common import ctrl_c_kept
from tests.conftest import ROOT, SAMPLE, shared_path

runner = CliRunner()


def test_demo_runs_and_reports(isolated_env):
    out = isolated_env / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Codes proposed" in result.output and "trust/" in result.output
    # what was scored, misses included: coverage, a sample chosen by position (not by score), no praise
    said = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "data segments against the seed codebook" in said and "got none" in said
    assert "spread through the corpus" in said and "not the chance that the code is right" in said
    for name in ("segments.jsonl", "suggestions.jsonl", "suggestions.csv", "summary.json", "index/manifest.json"):
        assert (out / name).exists(), name
    again = runner.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert again.exit_code == 0 and "encoded 0" in again.output


@pytest.mark.parametrize("args,message", [
    (["code", "nowhere/", "--out", "o"], "nowhere: no such file or folder"),
    (["code", str(SAMPLE), "--out", "o", "--codebook", "missing.yaml"], "missing.yaml: no such codebook file"),
    (["code", str(SAMPLE), "--out", "o", "--unit", "chapter"], "'chapter' is not one of"),
    (["code", str(SAMPLE), "--out", "o", "--on-error", "maybe"], "'maybe' is not one of"),
    (["code", str(SAMPLE), "--out", "o", "--threshold", "2"], "--threshold 2.0: input should be less than or equal to 1"),
    (["code", str(SAMPLE), "--out", "o", "--format", "xml"], "'xml' is not one of"),
    (["code", str(SAMPLE), "--out", "o", "--engine", "spark"], "'spark' is not one of"),
    (["code", str(SAMPLE), "--out", "o", "--precision", "int4"], "'int4' is not one of"),
])
def test_errors_are_messages_not_tracebacks(isolated_env, monkeypatch, args, message):
    monkeypatch.chdir(isolated_env)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_bad_file_with_on_error_fail(isolated_env):
    corpus = isolated_env / "c"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("A passage about trust.", encoding="utf-8")
    (corpus / "bad.txt").write_bytes(b"caf\xe9 \xff")
    out = isolated_env / "o"
    result = runner.invoke(app, ["code", str(corpus), "--out", str(out), "--on-error", "fail", "--quiet"])
    said = result.output.replace("\n", "")  # rich wraps long paths at the terminal's width
    assert result.exit_code == 2 and "bad.txt" in said and "UTF-8" in said
    skipped = runner.invoke(app, ["code", str(corpus), "--out", str(out), "--quiet"])
    said = skipped.output.replace("\n", "")
    assert skipped.exit_code == 3 and "skipped" in said and "bad.txt" in said  # exit 3: finished, files skipped


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_that_lands_in_a_finalizer_still_stops_the_run_at_the_next_chunk():
    """Python drops an exception raised inside __del__; the mark the handler leaves is not dropped."""

    class Finalized:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)  # to this thread, so the handler runs inside __del__
            for _ in range(10_000):  # the handler runs here, inside __del__, and Python drops its KeyboardInterrupt
                pass

    outer = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in `loupe code` (a test runner may differ)
    try:
        with ctrl_c_kept() as check:
            check()  # no Ctrl-C yet: nothing happens
            Finalized()  # made and finalised at once
            with pytest.raises(KeyboardInterrupt):
                check()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job of a script: Ctrl-C is not for it
        with ctrl_c_kept() as check:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # left alone
            signal.raise_signal(signal.SIGINT)
            check()  # ignored, as before
    finally:
        signal.signal(signal.SIGINT, outer)


def _as_a_terminal_starts_it() -> None:
    """In the child before exec: Ctrl-C neither ignored nor blocked, as in a shell in a terminal.
    A process inherits an ignored SIGINT, and `loupe code` rightly keeps ignoring it (a background
    job of a script); in the full suite the pytest worker at times had SIGINT ignored, and the
    run below went on to its end after the SIGINT (seen: sent after chunk 1 of 10, exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _loupe(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_as_a_terminal_starts_it,
    )


def _signal_state(pid: int) -> str:
    """The SigBlk/SigIgn/SigCgt lines of a live process (for a failure message)."""
    try:
        return " ".join(line.replace("\t", " ") for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
    except OSError:
        return "?"


def _wait_for_checkpoint(run_json: Path, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"loupe exited early: {proc.stdout.read()}")
        try:
            done = json.loads(run_json.read_text())["done"]
            if done >= at_least:
                return done
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail("no checkpoint in time")


@pytest.mark.slow
def test_ctrl_c_and_kill_9_then_resume_gives_the_clean_result(tmp_path):
    csv_path = shared_path("datasets", "benoit2016_crowd_immigration", "sentences.csv")
    env = {**os.environ, "LOUPE_DATA_DIR": str(tmp_path / "data"), "LOUPE_CHUNK_SIZE": "100", "LOUPE_THREADS": "2"}
    args = ["code", str(csv_path), "--text-column", "sentence_text", "--id-column", "sentenceid",
            "--limit", "1000", "--quiet", "--out"]
    out = tmp_path / "interrupted"

    proc = _loupe([*args, str(out)], env)
    _wait_for_checkpoint(out / "run.json", 100, proc)
    state = _signal_state(proc.pid)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130 and "run the same command again to resume" in text, (proc.returncode, state, text[-1000:])

    proc = _loupe([*args, str(out)], env)
    first = json.loads((out / "run.json").read_text())["done"]
    _wait_for_checkpoint(out / "run.json", first + 300, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    proc = _loupe([*args, str(out)], env)
    text = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, text
    assert "resumed after" in text

    clean = tmp_path / "clean"
    proc = _loupe([*args, str(clean)], env)
    text = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0 and "encoded 0" in text  # everything came from the cache
    for name in ("segments.jsonl", "suggestions.jsonl", "embeddings.f32", "suggestions.csv"):
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    ids = [json.loads(line)["id"] for line in (out / "segments.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 1000
