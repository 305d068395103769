"""Upload size limits, counted on the stream.

Invariant: no request body larger than the limit is ever held whole. `BodyLimit` refuses a
declared Content-Length over the limit before reading anything, and counts the bytes of every
body as they arrive, so a chunked body (no Content-Length) is cut off as soon as it passes the
limit; the answer is 413 `{"error": "payload_too_large", ...}` whatever the endpoint was doing
with the body. `read_limited` applies the same limit to one file of a multipart upload.
"""

from __future__ import annotations

from typing import Any

from fastapi import UploadFile
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import TooLarge

SETTING = "LOUPE_MAX_UPLOAD_MB"


def _too_large(limit: int, what: str = "the request body") -> str:
    return f"{what} is larger than the server's limit of {limit / 1048576:.1f} MB ({SETTING})"


async def read_limited(file: UploadFile, limit: int) -> bytes:
    """The file's bytes; 413 as soon as more than `limit` bytes have been read."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await file.read(1 << 20)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise TooLarge(_too_large(limit, str(file.filename)))
        chunks.append(chunk)


class BodyTooLarge(TooLarge):
    """Raised by BodyLimit's receive() once the body has passed the limit."""


class BodyLimit:
    """Pure ASGI middleware: 413 for a request body over `limit` bytes, declared or counted.

    The wrapped receive() raises BodyTooLarge as soon as the running count passes the limit and
    on every later call. Whatever the application then answers (FastAPI turns a failed body read
    into a 400, an unhandled error into a 500) is dropped and replaced by the 413, unless the
    application had already started its response.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"error": TooLarge.kind, "detail": _too_large(self.limit)}, status_code=TooLarge.status)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        state: dict[str, Any] = {"received": 0, "exceeded": False, "started": False}

        async def counted() -> Message:
            if state["exceeded"]:
                raise BodyTooLarge(_too_large(self.limit))
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["exceeded"] = True
                    raise BodyTooLarge(_too_large(self.limit))
            return message

        async def guarded(message: Message) -> None:
            if state["exceeded"] and not state["started"]:
                return  # the application's answer to the cut-off body; the 413 replaces it
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not state["exceeded"]:
                raise
        if state["exceeded"] and not state["started"]:
            await self._refuse(scope, receive, send)
