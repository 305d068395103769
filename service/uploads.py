"""Upload size limits: refuse early from Content-Length, and again while reading."""

from __future__ import annotations

from fastapi import UploadFile

from service.errors import TooLarge


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
            raise TooLarge(f"{file.filename}: larger than the server's limit of {limit / 1048576:.1f} MB (LOUPE_MAX_UPLOAD_MB)")
        chunks.append(chunk)
