"""Latency of the review API under load, against a real `loupe serve` process.

    python3 -m scripts.bench_api [--segments 100000] [--clients 50] [--rate 2] [--seconds 20]

Set-up: a project is created through the API; its 100,000 segments (1,000 documents of 100) and
one suggestion per segment (random code of the seed codebook, random score, review ranks from the
scores, random unit vectors for the evidence search) are written straight into the database:
how suggestions were made does not change what a queue page or a decision write costs.

Two workloads, each with `clients` concurrent coders (one token each):
- decision writes: POST /decisions (add or reject, random segment and code, a client key);
- queue pages: GET /queue?limit=20 with evidence, following each coder's cursor.
Each runs twice: paced (each client sends `rate` decisions or `page_rate` pages per second, at
random moments: analysts at work, far faster than people read; the targets apply here) and saturated (each client sends its next request as soon as
the last is answered: the most the server does). Retraining is off (retrain_every=0) so no job
competes. Prints a table and writes bench-results/api.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from tests.server_process import ServerProcess


def seed_project(database_url: str, project_id: int, n_segments: int, per_doc: int = 100, seed: int = 0) -> None:
    """Documents, segments and suggestions written directly (see the module docstring)."""
    from sqlalchemy import insert, select

    from models.classifiers.review import entropy
    from service.codebooks.versions import as_codebook, current_codebook
    from service.projects.access import get_project
    from service.storage.db import Database
    from service.storage.tables import (
        DocumentRow,
        SegmentRow,
        SegmentVector,
        Suggestion,
    )

    rng = np.random.default_rng(seed)
    db = Database(database_url)
    with db.read() as s:
        book = current_codebook(s, get_project(s, project_id))
    codes = list(as_codebook(book).codes)
    n_docs = n_segments // per_doc
    text = "We built trust slowly; the commissioners held the money and decided what counted. " * 2
    with db.write() as s:
        s.execute(insert(DocumentRow), [{"project_id": project_id, "name": f"doc-{d:05d}.txt", "format": "txt", "text": text * per_doc,
                                         "sha256": "0" * 64, "is_transcript": False, "attributes": {}} for d in range(n_docs)])
        doc_ids = list(s.scalars(select(DocumentRow.id).where(DocumentRow.project_id == project_id).order_by(DocumentRow.id)))
    step = len(text)
    for lo in range(0, n_docs, 100):
        vectors = rng.standard_normal((100 * per_doc, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [{"project_id": project_id, "document_id": doc_ids[d], "ordinal": k, "start": k * step, "end": (k + 1) * step, "text": text,
                 "speaker": None, "sentences": [[0, step]]} for d in range(lo, min(lo + 100, n_docs)) for k in range(per_doc)]
        with db.write() as s:
            ids = s.scalars(insert(SegmentRow).returning(SegmentRow.id, sort_by_parameter_order=True), rows).all()
            s.execute(insert(SegmentVector), [{"segment_id": i, "model": "bench", "vector": v.tobytes()} for i, v in zip(ids, vectors, strict=False)])
    with db.read() as s:
        segs = s.execute(select(SegmentRow.id, SegmentRow.document_id).where(SegmentRow.project_id == project_id)).all()
    scores = rng.beta(2, 2, len(segs))
    ranks = np.empty(len(segs))
    ranks[np.argsort(-entropy(scores), kind="stable")] = np.arange(len(segs))
    evidence = {"sentence": text[:80], "start": 0, "end": 80, "matched": "Trust: confidence in another party.", "matched_kind": "definition", "similarity": 0.5}
    for lo in range(0, len(segs), 20_000):
        with db.write() as s:
            s.execute(insert(Suggestion), [
                {"project_id": project_id, "segment_id": sid, "document_id": did, "codebook_id": book.id, "code": codes[int(rng.integers(len(codes)))],
                 "score": float(scores[i]), "priority": float(ranks[i]), "model": "bench", "evidence": evidence}
                for i, (sid, did) in enumerate(segs[lo: lo + 20_000], start=lo)])
    db.dispose()


class Connection:
    """One keep-alive HTTP/1.1 connection, as light as a client can be: the benchmark shares the
    machine with the server, so the client's own CPU time must not stand in for server latency."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body). A kept-alive connection the server closed while idle is reopened once,
        as any HTTP client does."""
        reused = self.writer is not None
        try:
            return await self._send(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            self.close()
            self.writer = None
            return await self._send(method, path, body)

    async def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(url: str, tokens: list[str], make_request, rate: float, seconds: float) -> tuple[list[float], list[str]]:
    """Run every client for `seconds`; returns (latencies in ms of the 2xx answers, what each failure was)."""
    latencies: list[float] = []
    errors: list[str] = []
    host, port = url.split("//")[1].split(":")

    async def run(k: int, token: str) -> None:
        rnd = random.Random(k)
        state: dict = {}
        conn = Connection(host, int(port), token)
        end = time.perf_counter() + seconds
        if rate:
            await asyncio.sleep(rnd.random() / rate)
        while time.perf_counter() < end:
            method, path, body = make_request(k, rnd, state)
            t0 = time.perf_counter()
            try:
                status, data = await conn.request(method, path, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, data = 0, repr(exc).encode()
                conn.close()
                conn = Connection(host, int(port), token)
            took = time.perf_counter() - t0
            if 200 <= status < 300:
                latencies.append(took * 1000)
                if "/queue" in path:
                    state["cursor"] = json.loads(data)["next_cursor"]
            else:
                errors.append(f"{status} {data[:120]!r}")
            if rate:
                await asyncio.sleep(max(0.0, rnd.expovariate(rate) - took))
        conn.close()

    await asyncio.gather(*(run(k, t) for k, t in enumerate(tokens)))
    return latencies, errors


def main(
    segments: int = typer.Option(100_000, help="segments in the benchmark project"),
    clients: int = typer.Option(50, help="concurrent coders"),
    rate: float = typer.Option(2.0, help="decision writes per second per client in the paced run"),
    page_rate: float = typer.Option(0.5, help="queue pages per second per client in the paced run"),
    seconds: float = typer.Option(20.0, help="length of each run"),
    database_url: str = typer.Option(None, help="benchmark on this database instead of a new SQLite file"),
    out: Path = typer.Option(Path("bench-results")),
    tag: str = typer.Option("", help="written to bench-results/api[-TAG].json"),
) -> None:
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="loupe-bench-api-"))
    # Server and load generator on separate cores when there are two, so neither's scheduling
    # shows up as the other's latency.
    cpus = sorted(os.sched_getaffinity(0))
    server = ServerProcess(tmp, database_url, cpus=",".join(map(str, cpus[:-1])) if len(cpus) >= 2 else None).start()
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[-1]})
    try:
        admin = httpx.Client(base_url=server.url, timeout=120)
        made = admin.post("/projects", json={"name": "bench", "owner": "owner", "retrain_every": 0}).json()
        pid = made["project"]["id"]
        owner = {"Authorization": f"Bearer {made['owner']['token']}"}
        t0 = time.perf_counter()
        seed_project(database_url or f"sqlite:///{tmp / 'loupe.db'}", pid, segments)
        console.print(f"seeded {segments:,} segments and suggestions in {time.perf_counter() - t0:.0f} s")
        tokens = [admin.post(f"/projects/{pid}/coders", json={"name": f"coder-{k}"}, headers=owner).json()["token"] for k in range(clients)]
        first = admin.get(f"/projects/{pid}/segments", params={"limit": 1}, headers=owner).json()[0]["id"]
        codes = [c for c in _codes(admin, pid, owner)]

        run_id = f"{time.time():.0f}"

        def decision(k: int, rnd: random.Random, state: dict):
            state["n"] = state.get("n", 0) + 1
            body = {"segment_id": first + rnd.randrange(segments), "code": rnd.choice(codes), "verdict": rnd.choice(("add", "reject")),
                    "client_key": f"{run_id}-{k}-{state['n']}"}
            return "POST", f"/projects/{pid}/decisions", json.dumps(body).encode()

        def page(k: int, rnd: random.Random, state: dict):
            cursor = f"&cursor={state['cursor']}" if state.get("cursor") else ""
            return "GET", f"/projects/{pid}/queue?limit=20{cursor}", b""

        asyncio.run(load(server.url, tokens[:5], page, 0, 2))  # warm up
        rows: list[dict[str, Any]] = []
        for name, fn, paced in (("decision write", decision, rate), ("queue page (20, evidence)", page, page_rate)):
            for mode, r in (("paced", paced), ("saturated", 0.0)):
                run_id = f"{name}-{mode}"
                lat, errors = asyncio.run(load(server.url, tokens, fn, r, seconds))
                a = np.array(lat)
                rows.append({
                    "workload": name, "mode": mode, "clients": clients, "rate_per_client": r or None, "requests": len(lat), "errors": len(errors), "error_examples": sorted(set(errors))[:3],
                    "throughput_rps": round(len(lat) / seconds, 1), "p50_ms": round(float(np.percentile(a, 50)), 2),
                    "p90_ms": round(float(np.percentile(a, 90)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2),
                })
    finally:
        server.stop()
    table = Table(title=f"Review API, {segments:,} segments, {clients} clients ({os.cpu_count()} CPUs, {'SQLite' if not database_url else database_url.split(':')[0]})")
    for col in ("workload", "mode", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"):
        table.add_column(col)
    for row in rows:
        mode = f"{row['mode']} ({row['rate_per_client']:g}/s each)" if row["rate_per_client"] else row["mode"]
        table.add_row(row["workload"], mode, f"{row['throughput_rps']:.0f}", f"{row['p50_ms']:.1f}", f"{row['p90_ms']:.1f}", f"{row['p99_ms']:.1f}",
                      f"{row['max_ms']:.0f}", str(row["errors"]))
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    record = {"segments": segments, "clients": clients, "seconds": seconds, "database": "sqlite" if not database_url else database_url.split(":")[0],
              "rows": rows, "targets_ms": {"decision write p99": 20, "queue page p99": 50},
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    path = out / (f"api-{tag}.json" if tag else "api.json")
    path.write_text(json.dumps(record, indent=2))
    console.print(f"wrote {path}")


def _codes(client: httpx.Client, pid: int, headers: dict) -> list[str]:
    book = client.get(f"/projects/{pid}/codebook", headers=headers).json()["content"]

    def walk(items: list, parent: str | None) -> list[str]:
        out = []
        for c in items:
            path = f"{parent}/{c['id']}" if parent else c["id"]
            out += [path] + walk(c.get("children", []), path)
        return out

    return walk(book["codes"], None)


if __name__ == "__main__":
    typer.run(main)
