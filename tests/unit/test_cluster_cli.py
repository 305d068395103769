"""`loupe cluster`: files in, clusters.json / candidates.json / map.json / map.png out; the same
from a project's database; mistakes as messages."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from scripts.cli import app
from tests import refi_handmade as hm
from tests.conftest import SAMPLE

runner = CliRunner()


def test_cluster_files_writes_the_four_outputs(isolated_env):
    out = isolated_env / "clusters"
    result = runner.invoke(app, ["cluster", str(SAMPLE), "--unit", "sentence", "--text-column", "response", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "candidate codes" in result.output
    clusters = json.loads((out / "clusters.json").read_text())
    candidates = json.loads((out / "candidates.json").read_text())
    assert clusters["method"] == "hdbscan" and clusters["n_clusters"] == len(clusters["clusters"]) >= 2
    assert [c["label"] for c in candidates["candidates"]] == [c["label"] for c in clusters["clusters"] if c["candidate"]]
    points = json.loads((out / "map.json").read_text())["points"]
    assert len(points) == clusters["n_segments"] and all(p["id"].count("#") == 1 for p in points)
    assert (out / "map.png").read_bytes()[:4] == b"\x89PNG"
    again = runner.invoke(app, ["cluster", str(SAMPLE), "--unit", "sentence", "--text-column", "response", "--out", str(isolated_env / "again")])
    assert again.exit_code == 0
    repeat = json.loads((isolated_env / "again" / "clusters.json").read_text())
    # Same segments and method. The clusters themselves are not compared exactly: on some machines
    # two runs in one process differ slightly (seen at earlier commits too; cause not found yet).
    assert repeat["n_segments"] == clusters["n_segments"] and repeat["method"] == clusters["method"]
    assert abs(repeat["n_clusters"] - clusters["n_clusters"]) <= max(2, clusters["n_clusters"] // 5)


def test_cluster_a_project(isolated_env):
    src = isolated_env / "study.qdpx"
    src.write_bytes(hm.qdpx())
    assert runner.invoke(app, ["import", str(src)]).exit_code == 0
    out = isolated_env / "p"
    result = runner.invoke(app, ["cluster", "--project", "1", "--method", "kmeans", "--k", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    clusters = json.loads((out / "clusters.json").read_text())
    assert clusters["n_clusters"] == 2 and sum(c["size"] for c in clusters["clusters"]) == clusters["n_segments"]


def test_cluster_mistakes_are_messages(isolated_env):
    for args, message in (
        (["cluster"], "give files or folders to cluster, or --project ID"),
        (["cluster", str(SAMPLE), "--project", "1"], "not both"),
        (["cluster", str(SAMPLE), "--method", "spectral"], "'spectral' is not one of"),
        (["cluster", "--project", "5"], "project 5 does not exist"),
        (["cluster", str(isolated_env / "nowhere")], "no such file or folder"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in " ".join(result.output.split()), (args, result.output)
