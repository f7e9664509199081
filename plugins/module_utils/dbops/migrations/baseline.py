"""What a run takes over from another migration tool: the versions it records as `baseline`, and what it noticed.

Database-neutral record: the PostgreSQL executor fills it from the other tool's history (postgres/adopt/), the
engine plans with its entries as if they were applied, and the executor records them only once every pre-flight
check passed (never in check mode or state=status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import APPLIED, LedgerEntry


@dataclass(frozen=True)
class BaselineEntry:
    """One version to record as applied by the other tool, without running anything."""

    version: str  # as the set on disk spells it
    name: str
    checksum: str  # the engine's checksum of the set's files now (drift is judged against these from now on)
    installed_on: str | None = None  # when the other tool applied it, if it recorded that


@dataclass
class Baseline:
    tool: str | None = None  # the tool whose history was read; None: nothing read
    entries: list[BaselineEntry] = field(default_factory=list)
    recorded: bool = False
    not_on_disk: list[str] = field(default_factory=list)  # the tool applied them; no file here: reported, not invented
    drift: list[str] = field(default_factory=list)  # files that changed since the tool applied them (allow_drift)
    reapplied: list[str] = field(default_factory=list)  # repeatables changed since the tool applied them

    @property
    def versions(self) -> list[str]:
        return [entry.version for entry in self.entries]

    def as_ledger(self) -> dict[str, LedgerEntry]:
        """The entries as the ledger will hold them, for planning before they are recorded."""
        return {e.version: LedgerEntry(version=e.version, status=APPLIED, checksum=e.checksum, name=e.name)
                for e in self.entries}

    def to_dict(self) -> dict[str, Any]:
        """The `baseline` return value of the migrate module."""
        return {"tool": self.tool, "versions": self.versions, "recorded": self.recorded,
                "not_on_disk": list(self.not_on_disk), "drift": list(self.drift), "reapplied": list(self.reapplied)}
