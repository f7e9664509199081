"""What another migration tool recorded as applied, read from its own tables and never changed.

One reader per tool (flyway.py, golang_migrate.py, dbmate.py, sqitch.py) turns the tool's history into
AdoptedVersion records; the engine records them in its own ledger as `baseline` entries without running anything,
so that from then on only what the other tool had not applied is applied. The other tool's tables are left
exactly as they are, so the team can go back to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet

# The one list of choices lives with the other run parameters; named here too for the readers' users.
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import ADOPT_CHOICES

__all__ = ["ADOPT_CHOICES", "AdoptedVersion", "AdoptionRefused", "HistoryReader"]


class AdoptionRefused(DbopsError):
    """The other tool's history says it left something half-done (a dirty version, a failed row)."""


@dataclass(frozen=True)
class AdoptedVersion:
    """One version the other tool recorded as applied."""

    version: str  # as the engine's sets spell it (discovery's version of the same migration)
    tool: str  # flyway | golang-migrate | dbmate | sqitch
    description: str | None = None
    installed_on: str | None = None  # ISO time, when the tool recorded one
    # The tool's own checksum of the file, when it keeps one, and whether the file on disk still matches it
    # (None: the tool keeps no checksum, nothing to compare).
    tool_checksum: str | None = None
    matches_file: bool | None = None


class HistoryReader(Protocol):
    """One tool's history table(s) in a PostgreSQL database."""

    tool: str

    def present(self, conn: Any) -> bool:
        """Whether the tool's history exists in this database (read-only)."""

    def read(self, conn: Any, sets: list[MigrationSet]) -> list[AdoptedVersion]:
        """What the tool applied, matched to the discovered sets; AdoptionRefused for half-done work."""
