"""Run `loupe serve` as a child process (for the HTTP tests and scripts/bench_api.py, which runs from a checkout): start, wait for /ready, kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`start()` waits for /ready (the model loaded); `kill()` sends SIGKILL; `stop()` asks politely."""

    def __init__(self, data_dir: Path, database_url: str | None = None, cache_dir: Path | None = None, *, cpus: str | None = None, **env: str) -> None:
        """cpus: run the server on these CPUs only (`taskset -c`), e.g. to keep a load generator off them."""
        self.data_dir, self.database_url, self.cache_dir, self.extra, self.cpus = Path(data_dir), database_url, cache_dir, env, cpus
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 180) -> ServerProcess:
        env = {**os.environ, "LOUPE_DATA_DIR": str(self.data_dir), **self.extra}
        if self.cache_dir:
            env["LOUPE_CACHE_DIR"] = str(self.cache_dir)
        if self.database_url:
            env["LOUPE_DATABASE_URL"] = self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pin = ["taskset", "-c", self.cpus] if self.cpus else []
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [*pin, sys.executable, "-m", "scripts.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server was not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
