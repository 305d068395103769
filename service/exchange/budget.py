"""The budget of one project import: how much it may inflate, and for how long it may run.

Invariants: the archive's members are checked against `max_bytes` (their total size
uncompressed) before any member is read, and the members read are capped at their declared size
(models.exchange.archive), so an import never holds more than that much inflated data. The wall
time is checked cooperatively: after the archive is read, before each document is segmented,
whenever the segmenter counts the tokens of a new piece of text, and before each document's
codings are matched. An import over either budget raises TooLarge (413) naming the setting, and
its transaction is rolled back: nothing is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from models.exchange.archive import DEFAULT_LIMITS, ArchiveLimits
from models.text.segment import TokenCounter
from service.errors import TooLarge


@dataclass(frozen=True)
class ImportBudget:
    max_bytes: int = 64 << 20  # all members of the archive, uncompressed
    seconds: float = 300.0
    started: float | None = None  # set by start(), when the import's work begins

    def start(self) -> ImportBudget:
        """This budget with its clock started now."""
        return replace(self, started=time.monotonic())

    def archive_limits(self) -> ArchiveLimits:
        return replace(DEFAULT_LIMITS, max_total_bytes=min(self.max_bytes, DEFAULT_LIMITS.max_total_bytes),
                       max_member_bytes=min(self.max_bytes, DEFAULT_LIMITS.max_member_bytes))

    def too_large(self, detail: str) -> TooLarge:
        return TooLarge(f"{detail}; an import may inflate to {self.max_bytes / 1048576:.0f} MB (LOUPE_IMPORT_MAX_MB): nothing was imported")

    def check(self) -> None:
        """Raise TooLarge once the import has run longer than its budget."""
        if self.started is not None and time.monotonic() - self.started > self.seconds:
            raise TooLarge(f"the import did not finish within {self.seconds:g} s (LOUPE_IMPORT_TIMEOUT_S): nothing was imported; "
                           "split the project or raise the limit")

    def counting(self, count_tokens: TokenCounter) -> TokenCounter:
        """`count_tokens`, checking the clock first (the segmenter calls it for each new piece of text)."""

        def counted(text: str) -> int:
            self.check()
            return count_tokens(text)

        return counted
