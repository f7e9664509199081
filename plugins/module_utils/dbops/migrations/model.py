"""Records describing migration sets as found on disk (one directory, or adopted files, per set)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import ValidationRule

TRANSACTION_MODES = ("auto", "true", "false")
PHASES = ("expand", "contract")


@dataclass(frozen=True)
class Backfill:
    """A batched UPDATE by keyset pagination, declared under `backfill:` in migration.yml."""

    name: str
    table: str  # "schema.table" or "table"
    key: tuple[str, ...]  # columns of a unique key, in pagination order
    set: str  # SQL SET list, e.g. "duration_minutes = duration_seconds / 60"
    where: str | None = None  # SQL condition selecting the rows still to migrate
    # Alone, batch_size fixes the rows per batch; with batch_time it caps them. Neither: batches of about
    # DEFAULT_BATCH_TIME_MS, sized by the engine.
    batch_size: int | None = None
    batch_time_ms: int | None = None  # target duration of one batch; the row count adapts to it
    pause_ms: int = 0
    pause_ratio: float | None = None  # pause after each batch as a fraction of its time (None: the default)
    max_replica_lag_ms: int | None = None  # wait while a streaming replica lags more (None: the default)


@dataclass(frozen=True)
class OnlineChange:
    """A table rewritten online, declared under `online_change:` in migration.yml: a shadow table with the new
    definition kept in step by triggers, copied in keyset batches, validated, then swapped in."""

    table: str  # "schema.table" or "table"
    alter: tuple[str, ...]  # ALTER TABLE actions applied to the empty shadow table, in order
    using: tuple[tuple[str, str], ...] = ()  # (target column, SQL expression over the original row)
    revert: tuple[str, ...] | None = None  # the ALTER actions back to the old shape; None: irreversible
    batch_size: int | None = None
    batch_time_ms: int | None = None
    lock_timeout_ms: int = 2000  # of the swap's transaction
    swap_retries: int = 10


@dataclass(frozen=True)
class PostgresOptions:
    """`postgres:` section of migration.yml."""

    transaction: str = "auto"  # auto | true | false
    lock_timeout_ms: int | None = None  # overrides the run's lock_timeout for this set
    statement_timeout_ms: int | None = None


@dataclass(frozen=True)
class Manifest:
    """migration.yml, validated (defaults when the file is absent or the set is adopted)."""

    description: str = ""
    depends_on: tuple[str, ...] = ()
    phase: str = "expand"
    destructive: bool = False
    postgres: PostgresOptions = field(default_factory=PostgresOptions)
    backfill: tuple[Backfill, ...] = ()
    online_change: tuple[OnlineChange, ...] = ()
    # {"postgres": "<query returning no rows>", "mongodb": <interpreted by the MongoDB part>}
    validate: dict[str, Any] = field(default_factory=dict)
    # validate: written as a list: data validation rules, checked before (pre) and after (post) the set
    rules: tuple[ValidationRule, ...] = ()
    path: Path | None = None  # the migration.yml file, None when absent
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostgresPart:
    """The PostgreSQL part of a set: forward SQL, optional inverse and verification, backfills."""

    up_sql: str
    down_sql: str | None  # None = irreversible
    verify_sql: str | None
    up_path: Path | None
    down_path: Path | None
    verify_path: Path | None
    options: PostgresOptions
    backfill: tuple[Backfill, ...]
    checksum: str  # sha256 of the part's files
    # Adopted formats keep up and down in one file (dbmate): statements are read from these strings, not files.
    source_format: str = "native"
    online_change: tuple[OnlineChange, ...] = ()


@dataclass(frozen=True)
class MongoPart:
    """The MongoDB part of a set; its content is interpreted by the MongoDB executor."""

    kind: str  # "yaml" | "python"
    path: Path
    source: str
    checksum: str


@dataclass(frozen=True)
class MigrationSet:
    version: str  # exactly as written in the name
    slug: str
    path: Path  # the set's directory (native) or its main file (adopted formats)
    manifest: Manifest
    postgres: PostgresPart | None = None
    mongodb: MongoPart | None = None
    source_format: str = "native"  # native | golang-migrate | flyway | dbmate | sqitch

    @property
    def name(self) -> str:
        return f"{self.version}_{self.slug}"

    def parts(self) -> list[str]:
        """Names of the parts present, in apply order."""
        names = []
        if self.postgres is not None:
            names.append("postgres")
        if self.mongodb is not None:
            names.append("mongodb")
        return names
