"""Crash test (the issue's bar): 1,000 concurrent decision writes, SIGKILL mid-way, restart; every
decision that got a 2xx is there, none is duplicated, and retrying the rest with the same client
keys stores each exactly once."""

from __future__ import annotations

import asyncio
import itertools

import httpx

from tests.api.conftest import TRANSCRIPTS, Api, new_project

N = 1000
CONCURRENCY = 50


async def fire(url: str, pid: int, tokens: list[str], bodies: list[dict], kill_after: int, kill, errors: list | None = None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Send every body; SIGKILL the server once `kill_after` answers came back. {client_key: decision id} of the 2xx.

    A body goes with the token its key belongs to (key-<k>: tokens[k % len(tokens)]), on every retry."""
    acked: dict[str, int] = {}
    errors = [] if errors is None else errors
    answered = 0
    killed = False
    sem = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(body: dict) -> None:
            nonlocal answered, killed
            async with sem:
                try:
                    token = tokens[int(body["client_key"].split("-")[1]) % len(tokens)]
                    r = await client.post(f"/projects/{pid}/decisions", json=body, headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    return
                if r.status_code in (200, 201):
                    acked[body["client_key"]] = r.json()["id"]
                else:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                answered += 1
                if answered >= kill_after and not killed:
                    killed = True
                    kill()

        await asyncio.gather(*(one(b) for b in bodies))
    return acked


def all_decisions(api: Api, pid: int) -> list[dict]:
    out, after = [], 0
    while True:
        page = api.ok("GET", f"/projects/{pid}/decisions", params={"after": after, "limit": 1000})
        if not page:
            return out
        out += page
        after = page[-1]["id"]


def test_sigkill_mid_write_loses_no_acknowledged_decision(make_server, backend, tmp_path):
    url, _ = backend
    server = make_server(url, data_dir=tmp_path / "crash").start()
    pid, owner = new_project(server.url, retrain_every=0)
    tokens = [owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": f"c{i}"})["token"] for i in range(4)]
    with open(TRANSCRIPTS[0], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[0].name, f)})
    segments = [s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000})]
    codes = ["trust", "power/funding", "control/top-down", "leadership/shared"]
    pairs = itertools.cycle(itertools.product(segments, codes))
    bodies = []
    for k in range(N):
        seg, code = next(pairs)
        bodies.append({"segment_id": seg, "code": code, "verdict": ("add", "reject")[k % 2], "client_key": f"key-{k}", "memo": f"write {k}"})

    acked = asyncio.run(fire(server.url, pid, tokens, bodies, kill_after=N // 3, kill=server.kill))
    assert 0 < len(acked) < N, "the kill should land mid-way"

    server.start()  # same data directory / database
    rows = all_decisions(owner, pid)
    by_key: dict[str, list[dict]] = {}
    for r in rows:
        by_key.setdefault(r["client_key"], []).append(r)
    missing = [k for k in acked if k not in by_key]
    assert not missing, f"{len(missing)} acknowledged decisions are gone, e.g. {missing[:5]}"
    assert all(by_key[k][0]["id"] == i for k, i in acked.items())
    assert all(len(v) == 1 for v in by_key.values()), "a decision was stored twice"
    assert len(rows) <= N

    # the client retries everything with the same keys: nothing doubles, everything lands once
    # (a request whose connection breaks is retried too: that is what the keys are for)
    retried: dict[str, int] = {}
    for _ in range(3):
        errors: list[str] = []
        todo = [b for b in bodies if b["client_key"] not in retried]
        retried |= asyncio.run(fire(server.url, pid, tokens, todo, kill_after=N + 1, kill=lambda: None, errors=errors))
        if len(retried) == N:
            break
    assert len(retried) == N, errors[:5]
    assert all(retried[k] == i for k, i in acked.items())
    rows = all_decisions(owner, pid)
    assert sorted(r["client_key"] for r in rows) == sorted(b["client_key"] for b in bodies)
