"""Saved artefacts describe themselves: a manifest with model, shape, library versions and checksum.

Loading refuses a mismatch with a message that says how to fix it. Nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from models.base import LoupeError

MANIFEST = "manifest.json"


class ArtifactMismatch(LoupeError):
    """A saved artefact does not fit what it is being loaded for."""


class ArtifactCorrupt(LoupeError):
    """A saved artefact is missing files or fails its checksum."""


def library_versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("loupe", "numpy", *names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file, fsync and rename, so a crash leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_manifest(directory: Path, kind: str, payload_file: str, **fields: Any) -> dict[str, Any]:
    manifest = {
        "kind": kind,
        "file": payload_file,
        "sha256": sha256_file(directory / payload_file),
        **fields,
    }
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def read_manifest(directory: Path, kind: str) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.exists():
        raise ArtifactCorrupt(f"{directory} has no {MANIFEST}: it is not a saved Loupe {kind}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactCorrupt(f"{path} is not valid JSON ({exc}); rebuild the {kind}") from None
    if not isinstance(manifest, dict):
        raise ArtifactCorrupt(f"{path} is not a JSON object; rebuild the {kind}")
    if manifest.get("kind") != kind:
        raise ArtifactMismatch(f"{directory} holds a {manifest.get('kind')!r}, not a {kind}")
    payload = directory / manifest["file"]
    if not payload.exists() or sha256_file(payload) != manifest.get("sha256"):
        raise ArtifactCorrupt(f"{payload} is missing or does not match its checksum; rebuild the {kind}")
    return manifest
