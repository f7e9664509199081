"""The protocol the coordinator drives: one executor per database kind (PostgreSQL, MongoDB).

An executor owns its database's connection, runner lock and ledger. The coordinator decides what to apply or
undo and in which order; the executor does it for its own part of a set and records it in its own ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet

# Ledger status values of a part.
APPLIED = "applied"
FAILED = "failed"  # the last attempt failed and left nothing of the part behind
ROLLED_BACK = "rolled_back"
RUNNING = "running"  # work in progress; found after a crash, it means the same as PARTIAL
PARTIAL = "partial"  # some of the part's work is committed (segments, backfill batches): resume or compensate
HALF_DONE = (RUNNING, PARTIAL)


@dataclass(frozen=True)
class LedgerEntry:
    """What a part's ledger says about one version."""

    version: str
    status: str
    checksum: str | None = None
    name: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None
    error: str | None = None


@dataclass
class RunOptions:
    """Options of one run, passed to every executor call; built by the engine from a RunRequest (which holds the
    defaults), so none are repeated here."""

    run_id: str
    check_mode: bool
    allow_destructive: bool
    allow_drift: bool
    lock_timeout_ms: int
    ddl_retries: int
    batch_size: int | None  # overrides every backfill's batch_size
    runner_lock_wait_s: float
    on_partial: str
    # Executors append what the user should know but that does not stop the run.
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class PartExecutor(Protocol):
    """One database's side of the migration sets. `name` is the part name: "postgres" or "mongodb"."""

    name: str

    def connect(self) -> None:
        """Open the connection; raise ConnectionFailed with a clear message (no secrets) when it cannot."""

    def close(self) -> None:
        """Close the connection (releasing the runner lock if still held)."""

    def acquire_runner_lock(self, wait_s: float) -> None:
        """Become the only runner on this database; wait up to wait_s, then raise RunnerLockTimeout."""

    def release_runner_lock(self) -> None:
        """Give the runner lock up."""

    def ledger(self) -> dict[str, LedgerEntry]:
        """Read-only view of the part's ledger by version; {} when the ledger does not exist yet (never creates it)."""

    def notes(self) -> list[str]:
        """What the user should know that was found outside a call with RunOptions (a ledger layout upgrade done or
        pending, a lock taken over); each note is returned once. The engine reads them after every ledger read."""

    def has_part(self, migration_set: MigrationSet) -> bool:
        """True if the set has a part for this executor."""

    def plan_apply(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        """The statements/operations applying the part would run, without changing anything.

        Also the pre-flight check: raise DestructiveChangeRefused (unless opts.allow_destructive) or
        MigrationFormatError here, so that a run refuses before anything changes.
        """

    def apply(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        """Apply the part (resuming committed progress), record it in the ledger, append what ran to queries.

        On failure: leave nothing of the failed step behind where the database allows it, record the status
        (FAILED, or PARTIAL when committed progress remains) with the error, and raise a DbopsError.
        """

    def validate(self, migration_set: MigrationSet, opts: RunOptions) -> None:
        """Run the part's validation; raise ValidationFailed naming the set when it reports a problem."""

    def plan_rollback(self, migration_set: MigrationSet, opts: RunOptions) -> list[str]:
        """The statements/operations rolling the part back would run, without changing anything."""

    def ensure_reversible(self, migration_set: MigrationSet) -> None:
        """Raise IrreversibleMigration naming the set and file when the part has no down."""

    def rollback(self, migration_set: MigrationSet, opts: RunOptions, queries: list[str]) -> None:
        """Undo the part (also a PARTIAL one), record ROLLED_BACK, forget its progress; raise on failure."""

    def record_status(self, migration_set: MigrationSet, status: str, *, error: str | None = None) -> None:
        """Write a status (and error) for the part into the ledger, e.g. after a compensation failed."""
