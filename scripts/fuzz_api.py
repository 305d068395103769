"""Fuzz the whole HTTP API with schemathesis against a real `loupe serve`, as the owner and as a coder.

    python3 -m scripts.fuzz_api                      # 300 s per role (owner, then coder)
    python3 -m scripts.fuzz_api --seconds 30 --role coder

It starts a server on a fresh data directory (LOUPE_MAX_UPLOAD_MB=1), seeds a blind project with
two coders' work (a transcript, suggestions, decisions and memos by each), then runs `st run`
over the server's own OpenAPI document once per role, with path ids pointed at the seeded
project's real ids most of the time (so requests get past the 404s into the handlers). The check
is `not_a_server_error`: any 5xx fails the run. The owner's run leaves out
`PATCH /projects/{project_id}/coders/{coder_id}`: rotating or deactivating the owner's own token
early would turn the rest of the run into 401s.

Exit status: 0 when every run found no 5xx, 1 otherwise. Each run's schemathesis output and the
server log are kept under --out (default: a new temporary folder, printed at the end).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import typer

from tests.server_process import ROOT, ServerProcess

SAMPLE = ROOT / "models" / "data" / "sample_corpus" / "p01_commissioner.txt"
OWNER_EXCLUDED = "PATCH /projects/{project_id}/coders/{coder_id}"

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def _ok(client: httpx.Client, method: str, path: str, token: str | None, expect: int, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.request(method, path, headers=headers, **kw)
    if r.status_code != expect:
        raise RuntimeError(f"seeding: {method} {path} -> {r.status_code}: {r.text[:300]}")
    return r.json()


def seed(url: str) -> dict:
    """A blind project with an owner and two coders, each with decisions and a memo; returns ids and tokens."""
    with httpx.Client(base_url=url, timeout=300) as c:
        made = _ok(c, "POST", "/projects", None, 201, json={"name": "fuzz", "owner": "owner", "blind": True})
        pid, owner = made["project"]["id"], made["owner"]["token"]
        coders = [_ok(c, "POST", f"/projects/{pid}/coders", owner, 201, json={"name": n}) for n in ("ana", "ben")]
        with open(SAMPLE, "rb") as f:
            docs = _ok(c, "POST", f"/projects/{pid}/documents", owner, 201, files={"file": (SAMPLE.name, f)})
        job = _ok(c, "POST", f"/projects/{pid}/jobs", owner, 202, json={"kind": "suggest"})
        deadline = time.monotonic() + 600
        while _ok(c, "GET", f"/projects/{pid}/jobs/{job['id']}", owner, 200)["status"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise RuntimeError("seeding: the suggest job did not finish in 600 s")
            time.sleep(0.5)
        segments = _ok(c, "GET", f"/projects/{pid}/segments", owner, 200, params={"limit": 20})
        ids: dict[str, set[int]] = {"suggestion_id": set(), "decision_id": set(), "segment_id": {s["id"] for s in segments}}
        theme = _ok(c, "POST", f"/projects/{pid}/themes", owner, 201, json={"name": "a theme"})
        for coder in coders:
            page = _ok(c, "GET", f"/projects/{pid}/queue", coder["token"], 200, params={"limit": 5, "evidence": False})
            for item in page["items"][:3]:
                ids["segment_id"].add(item["segment"]["id"])
                if item["suggestion"]:
                    ids["suggestion_id"].add(item["suggestion"]["id"])
                    d = _ok(c, "POST", f"/projects/{pid}/decisions", coder["token"], 201,
                            json={"suggestion_id": item["suggestion"]["id"], "verdict": "accept", "memo": f"{coder['name']}'s note"})
                    ids["decision_id"].add(d["id"])
            _ok(c, "POST", f"/projects/{pid}/memos", coder["token"], 201,
                json={"target_kind": "project", "target": "", "text": f"{coder['name']}'s private memo"})
        return {
            "project_id": pid, "owner": owner, "coder": coders[0]["token"],
            "ids": {"document_id": [d["id"] for d in docs], "coder_id": [c_["id"] for c_ in coders] + [made["owner"]["id"]],
                    "job_id": [job["id"]], "theme_id": [theme["id"]], **{k: sorted(v) for k, v in ids.items()}},
        }


def config(seeded: dict) -> str:
    """schemathesis.toml: path ids drawn from the seeded project's real ids 90% of the time."""
    lines = [f'[dictionaries.project_id]\nvalues = [{seeded["project_id"]}]\n']
    for name, values in seeded["ids"].items():
        if values:
            lines.append(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n")
    lines.append("[parameters]")
    for name in ["project_id", *(n for n, v in seeded["ids"].items() if v)]:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.9 }}')
    return "\n".join(lines) + "\n"


@app.command()
def main(
    seconds: int = typer.Option(300, min=5, help="fuzzing time per role"),
    role: list[str] = typer.Option(["owner", "coder"], help="owner and/or coder (repeat the option for both)"),
    out: Path | None = typer.Option(None, help="folder for the reports and the server log (default: a new temporary one)"),
    workers: int = typer.Option(1, min=1, max=8, help="schemathesis workers"),
) -> None:
    out = out or Path(tempfile.mkdtemp(prefix="loupe-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(out / "data", None, LOUPE_MAX_UPLOAD_MB="1", LOUPE_THREADS="2").start(timeout=600)
    failed = False
    try:
        seeded = seed(server.url)
        (out / "schemathesis.toml").write_text(config(seeded))
        for r in role:
            token = seeded[r]
            cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(out / "schemathesis.toml"), "run",
                   f"{server.url}/openapi.json", "--max-time", str(seconds), "--workers", str(workers),
                   "--checks", "not_a_server_error", "-H", f"Authorization: Bearer {token}",
                   "--suppress-health-check", "all", "--request-timeout", "120", "--warnings", "off"]
            if r == "owner":
                cmd += ["--exclude-path", OWNER_EXCLUDED.split(" ", 1)[1]]
            started = time.monotonic()
            with open(out / f"schemathesis-{r}.txt", "w") as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out, env={**os.environ, "NO_COLOR": "1"})
            took = time.monotonic() - started
            tail = (out / f"schemathesis-{r}.txt").read_text().strip().splitlines()[-6:]
            typer.echo(f"{r}: exit {rc} after {took:.0f} s\n  " + "\n  ".join(tail))
            failed |= rc != 0
    finally:
        server.stop()
    typer.echo(f"reports and the server log: {out}")
    raise typer.Exit(1 if failed else 0)


if __name__ == "__main__":
    app()
