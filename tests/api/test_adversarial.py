"""Hostile requests against a real `loupe serve` (issue 22): while each heavy request runs, a
second thread polls /health and samples the server process's memory (RSS, psutil).

- a 327-byte YAML alias bomb (9 levels of 9 aliases) as a codebook file: refused in < 5 s with a
  body under 100 KB and < 300 MB growth (was: 56 s, a 2 GB body, +9.7 GB, /health blocked 53 s);
- a 40 MB JSON body sent chunked (no Content-Length): 413 with < 300 MB growth, nothing stored
  (was: stored, +5 GB);
- a .qdpx of 2 MB inflating to 100 MB (50-fold, within the archive's ratio limit): refused by the
  import budget, /health < 1 s (was: 61 s on the event loop, +2.6 GB); one inflating to 8 MB,
  within the budget: imported whole in a worker thread, /health < 1 s throughout;
- an 8 MB text of 120k paragraphs uploaded as a file: stored, /health < 1 s throughout (was: the
  upload ran on the event loop and blocked /health for 10.7 s).

One server serves every case, run in this order, so each starts from a settled process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psutil
import pytest

from tests.adversarial_inputs import alias_bomb, inflating_qdpx, paragraphs
from tests.api.conftest import Api, Server, new_project

MB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_cache):
    s = Server(tmp_path_factory.mktemp("adversarial"), None, shared_cache).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def project(server) -> tuple[int, Api]:
    return new_project(server.url)


def rss(server: Server) -> int:
    """Resident memory of the server process and any children, in bytes."""
    assert server.proc is not None
    proc = psutil.Process(server.proc.pid)
    return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))


@dataclass
class Watch:
    before: int
    peak: int = 0
    health: list[float] = field(default_factory=list)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / MB

    @property
    def worst_health(self) -> float:
        return max(self.health, default=0.0)

    def show(self, case: str, **extra: object) -> None:
        """One line of figures (pytest -s shows them)."""
        more = "".join(f", {k} {v}" for k, v in extra.items())
        print(f"\n{case}: growth {self.growth_mb:.0f} MB, /health worst {self.worst_health:.2f} s over {len(self.health)} polls{more}")


@contextmanager
def watched(server: Server) -> Iterator[Watch]:
    """Poll /health (its latency) and the server's RSS (its peak) while the body runs."""
    watch = Watch(before=rss(server))
    watch.peak = watch.before
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not done.is_set():
                watch.peak = max(watch.peak, rss(server))
                started = time.perf_counter()
                assert client.get("/health").status_code == 200
                watch.health.append(time.perf_counter() - started)
                done.wait(0.1)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        done.set()
        thread.join(60)
        watch.peak = max(watch.peak, rss(server))


def test_yaml_alias_bomb_is_refused_fast_small_and_cheap(server, project):
    pid, owner = project
    bomb = alias_bomb()
    assert len(bomb) == 327
    with watched(server) as watch:
        started = time.perf_counter()
        r = owner.post(f"/projects/{pid}/codebook/file", files={"file": ("codebook.yaml", bomb)}, timeout=60)
        elapsed = time.perf_counter() - started
    watch.show("alias bomb", status=r.status_code, seconds=f"{elapsed:.2f}", body_bytes=len(r.content))
    assert r.status_code in (413, 422), r.text[:500]
    assert r.json()["error"] and "LOUPE_CODEBOOK_MAX_NODES" in r.json()["detail"]
    assert elapsed < 5, f"refused after {elapsed:.1f} s"
    assert len(r.content) < 100_000
    assert watch.growth_mb < 300, f"the server grew by {watch.growth_mb:.0f} MB"
    assert owner.ok("GET", f"/projects/{pid}/codebook")["version"] == 1


def test_chunked_body_over_the_limit_is_413(server, project):
    pid, owner = project
    chunk = b"x" * MB

    def body() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield b'{"name": "big", "text": "'
        for _ in range(40):
            yield chunk
        yield b'"}'

    with watched(server) as watch:
        r = owner.post(f"/projects/{pid}/documents/text", content=body(), headers={"Content-Type": "application/json"}, timeout=120)
    watch.show("40 MB chunked", status=r.status_code)
    assert r.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.request.headers
    assert r.status_code == 413, r.text[:500]
    assert r.json()["error"] == "payload_too_large" and "LOUPE_MAX_UPLOAD_MB" in r.json()["detail"]
    assert watch.growth_mb < 300, f"the server grew by {watch.growth_mb:.0f} MB"
    assert owner.ok("GET", f"/projects/{pid}/documents") == []


def test_inflating_qdpx_is_refused_by_the_import_budget(server):
    data = inflating_qdpx(100)
    assert len(data) < 2.5 * MB
    with watched(server) as watch:
        started = time.perf_counter()
        r = Api(server.url).post("/projects/import", files={"file": ("inflating.qdpx", data)}, data={"owner": "me"}, timeout=120)
    watch.show("inflating .qdpx", status=r.status_code, seconds=f"{time.perf_counter() - started:.2f}", zipped_bytes=len(data))
    assert r.status_code == 413, r.text[:500]
    assert "LOUPE_IMPORT_MAX_MB" in r.json()["detail"]
    assert watch.worst_health < 1, f"/health took {watch.worst_health:.2f} s during the import"
    assert watch.growth_mb < 300, f"the server grew by {watch.growth_mb:.0f} MB"


def test_import_within_budget_runs_off_the_event_loop(server):
    """A .qdpx inside the budget (8 MB of text in four sources) is imported whole while /health answers."""
    data = inflating_qdpx(8)
    with watched(server) as watch:
        started = time.perf_counter()
        r = Api(server.url).post("/projects/import", files={"file": ("within.qdpx", data)}, data={"owner": "me"}, timeout=600)
    watch.show("8 MB .qdpx import", status=r.status_code, seconds=f"{time.perf_counter() - started:.1f}")
    assert r.status_code == 201, r.text[:500]
    assert len(r.json()["report"]["documents"]) == 4 and r.json()["report"]["codings"] == 4
    assert watch.worst_health < 1, f"/health took {watch.worst_health:.2f} s during the import"
    assert len(watch.health) >= 5, "the import finished before /health was polled"


def test_large_upload_leaves_health_responsive(server, project):
    pid, owner = project
    text = paragraphs(120_000, words=11).encode()
    assert 8 * 10**6 <= len(text) < 9 * 10**6
    with watched(server) as watch:
        started = time.perf_counter()
        r = owner.post(f"/projects/{pid}/documents", files={"file": ("long.txt", text)}, data={"unit": "paragraph"}, timeout=600)
    watch.show("8 MB upload", status=r.status_code, seconds=f"{time.perf_counter() - started:.1f}", bytes=len(text))
    assert r.status_code == 201, r.text[:500]
    assert r.json()[0]["segments"] >= 100_000
    assert watch.worst_health < 1, f"/health took {watch.worst_health:.2f} s during the upload"
    assert len(watch.health) >= 5, "the upload finished before /health was polled"
