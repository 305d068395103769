"""Reading and writing .qdpx archives (zip files) without trusting them.

An archive is read in memory, never extracted. Before any member is read the whole listing is
checked: member names must be plain relative paths inside the archive (no absolute paths, no
"..", no drive letters or backslashes), the number of members and their declared sizes are
bounded, and a member whose compression ratio is absurd (a zip bomb) is refused. Members are
then read with a hard cap, so a header that lies about its size cannot make us read more.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from models.exchange.errors import ArchiveTooLarge, QdaError


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 20_000
    max_total_bytes: int = 1 << 30  # all members, uncompressed
    max_member_bytes: int = 256 << 20
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MiB


DEFAULT_LIMITS = ArchiveLimits()


def _check_name(name: str) -> None:
    bad = (
        not name
        or "\\" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or "\x00" in name
        or any(part == ".." for part in PurePosixPath(name).parts)
    )
    if bad:
        raise QdaError(f"the archive holds a member with an unsafe path ({name!r}): refused, nothing was imported")


class SafeArchive:
    """Members of a checked zip archive, by name (case-insensitively)."""

    def __init__(self, data: bytes, limits: ArchiveLimits = DEFAULT_LIMITS, *, what: str = "the .qdpx file") -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise QdaError(f"{what} is not a readable zip archive ({exc}); a .qdpx project is a zip file") from None
        if len(infos) > limits.max_members:
            raise QdaError(f"{what} holds {len(infos)} members, more than the {limits.max_members} allowed")
        total = 0
        for info in infos:
            _check_name(info.filename)
            if info.flag_bits & 0x1:
                raise QdaError(f"{what}: member {info.filename!r} is encrypted; export the project without a password")
            total += info.file_size
            if info.file_size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"{what}: member {info.filename!r} is {info.file_size} bytes uncompressed, over the {limits.max_member_bytes} allowed")
            if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise QdaError(f"{what}: member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}-fold (a zip bomb?): refused")
        if total > limits.max_total_bytes:
            raise ArchiveTooLarge(f"{what} expands to {total} bytes, over the {limits.max_total_bytes} allowed")
        self.limits = limits
        self.what = what
        self._by_name = {info.filename.lower(): info for info in infos if not info.is_dir()}

    def names(self) -> list[str]:
        return [info.filename for info in self._by_name.values()]

    def has(self, name: str) -> bool:
        return name.lower() in self._by_name

    def read(self, name: str) -> bytes:
        info = self._by_name.get(name.lower())
        if info is None:
            raise QdaError(f"{self.what} has no member {name!r}")
        cap = min(info.file_size, self.limits.max_member_bytes)
        try:
            with self._zip.open(info) as fh:
                data = fh.read(cap + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # includes bad CRC
            raise QdaError(f"{self.what}: member {name!r} cannot be read ({exc})") from None
        if len(data) > cap:
            raise QdaError(f"{self.what}: member {name!r} is larger than its header says: refused")
        return data


def write_archive(members: dict[str, bytes]) -> bytes:
    """A deflated zip holding the members, in the given order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            _check_name(name)
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same project gives the same bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()
