"""BodyLimit (service.uploads) counts a body's bytes as they arrive: a chunked body with no
Content-Length is cut off with 413 once past the limit, whatever the endpoint does with the body,
and the rest of it is never read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request, UploadFile

from service.uploads import BodyLimit

LIMIT = 10_000


def _app() -> BodyLimit:
    app = FastAPI()

    @app.post("/json")
    async def read_json(request: Request) -> dict[str, int]:
        return {"n": len(json.dumps(await request.json()))}

    @app.post("/file")
    async def read_file(file: UploadFile) -> dict[str, int]:
        return {"n": len(await file.read())}

    return BodyLimit(app, LIMIT)


def _call(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any], int]:
    """(status, JSON body, chunks never read) for a body sent as `chunks`."""
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b"", "http_version": "1.1",
             "scheme": "http", "server": ("test", 80), "client": ("test", 1), "root_path": ""}
    asyncio.run(_app()(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), len(pending)


def test_chunked_json_over_the_limit_is_cut_off():
    chunks = [b'{"text": "', *[b"x" * 1000] * 100, b'"}']
    status, body, unread = _call("/json", chunks, [(b"content-type", b"application/json")])
    assert status == 413 and body["error"] == "payload_too_large" and "LOUPE_MAX_UPLOAD_MB" in body["detail"]
    assert unread > 80  # stopped reading just past the limit


def test_chunked_multipart_over_the_limit_is_413_not_400():
    boundary = b"b0undary"
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    chunks = [head, *[b"y" * 1000] * 50, b"\r\n--" + boundary + b"--\r\n"]
    status, body, _ = _call("/file", chunks, [(b"content-type", b"multipart/form-data; boundary=" + boundary)])
    assert status == 413 and body["error"] == "payload_too_large"


def test_declared_length_over_the_limit_is_refused_unread():
    status, _, unread = _call("/json", [b"{}"] * 3, [(b"content-length", str(LIMIT + 1).encode())])
    assert status == 413 and unread == 3


def test_under_the_limit_passes():
    status, body, _ = _call("/json", [b'{"text": "', b"x" * 5000, b'"}'], [(b"content-type", b"application/json")])
    assert status == 200 and body["n"] > 5000
