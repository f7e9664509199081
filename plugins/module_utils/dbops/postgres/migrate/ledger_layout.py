"""Versions of the ledger's layout (schema dbops) and the ordered, idempotent steps that create or upgrade it.

Like a registry upgrade in Sqitch: dbops.ledger_layout records which layout a database has; a runner holding the
runner lock brings an older layout up to LATEST step by step, each step and its layout row in one transaction, so a
step is either done and recorded or neither. Every step is safe to run again (IF NOT EXISTS), so a step whose row
was lost is simply redone. A ledger newer than this code is refused: this code would not know how to write it.
Check mode never upgrades; it reports that an upgrade is pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger_write


@dataclass(frozen=True)
class LayoutStep:
    version: int
    what: str
    ddl: str


# Version 1: the layout of the releases before layouts were versioned (no dbops.ledger_layout table).
_VERSION_1 = """
CREATE SCHEMA IF NOT EXISTS dbops;
CREATE TABLE IF NOT EXISTS dbops.schema_migrations (
    version      text PRIMARY KEY,
    name         text NOT NULL,
    checksum     text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'partial', 'applied', 'failed', 'rolled_back')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    duration_ms  bigint,
    applied_by   text NOT NULL DEFAULT current_user,
    applied_from text,
    run_id       text,
    error        text
);
CREATE TABLE IF NOT EXISTS dbops.migration_log (
    id          bigserial PRIMARY KEY,
    run_id      text NOT NULL,
    version     text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('up', 'down', 'verify', 'backfill')),
    seq         integer NOT NULL,
    statement   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error', 'lock_timeout')),
    attempt     integer NOT NULL DEFAULT 1,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    error       text
);
CREATE TABLE IF NOT EXISTS dbops.statement_progress (
    version        text NOT NULL,
    direction      text NOT NULL CHECK (direction IN ('up', 'down')),
    seq            integer NOT NULL,
    statement_sha  text NOT NULL,
    status         text NOT NULL CHECK (status IN ('running', 'done')),
    invalid_before jsonb,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, direction, seq)
);
CREATE TABLE IF NOT EXISTS dbops.backfill_progress (
    version     text NOT NULL,
    name        text NOT NULL,
    table_name  text NOT NULL,
    last_key    jsonb,
    rows_done   bigint NOT NULL DEFAULT 0,
    batches     bigint NOT NULL DEFAULT 0,
    status      text NOT NULL CHECK (status IN ('running', 'done')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, name)
);
"""

# Version 2: the layout table itself, and the fingerprint of each logged statement's original text: the log
# stores statements redacted, and the fingerprint still tells which exact statement ran.
_VERSION_2 = """
CREATE TABLE IF NOT EXISTS dbops.ledger_layout (
    version     integer PRIMARY KEY,
    upgraded_at timestamptz NOT NULL DEFAULT now(),
    upgraded_by text NOT NULL DEFAULT current_user
);
ALTER TABLE dbops.migration_log ADD COLUMN IF NOT EXISTS statement_sha text;
"""

STEPS: tuple[LayoutStep, ...] = (
    LayoutStep(1, "schema dbops with schema_migrations, migration_log, statement_progress, backfill_progress",
               _VERSION_1),
    LayoutStep(2, "dbops.ledger_layout; migration_log.statement_sha", _VERSION_2),
)
LATEST = STEPS[-1].version


class LedgerLayoutTooNew(DbopsError):
    """The ledger was written by a newer release of the collection."""


def current_version(conn: Any) -> int:
    """0 without a ledger, 1 for a ledger from before layouts were versioned, else the newest recorded version."""
    row = conn.execute("SELECT to_regclass('dbops.schema_migrations') IS NOT NULL, "
                       "to_regclass('dbops.ledger_layout') IS NOT NULL").fetchone()
    if not row[1]:
        return 1 if row[0] else 0
    recorded = conn.execute("SELECT max(version) FROM dbops.ledger_layout").fetchone()[0]
    return int(recorded) if recorded is not None else 1


def refuse_newer(version: int) -> None:
    if version > LATEST:
        raise LedgerLayoutTooNew(
            f"the ledger in schema dbops has layout version {version}, newer than this release of sevenp.dbops "
            f"knows (up to {LATEST}): a newer release wrote it; run that release (or newer), this one would "
            "misread or damage the ledger")


def pending_steps(version: int) -> list[LayoutStep]:
    refuse_newer(version)
    return [step for step in STEPS if step.version > version]


def describe_pending(version: int) -> str | None:
    """What an upgrade would do, for check mode; None when the layout is current."""
    steps = pending_steps(version)
    if not steps:
        return None
    start = f"layout {version}" if version else "no ledger"
    return (f"ledger schema dbops: upgrade pending from {start} to layout {LATEST} ("
            + "; ".join(f"{s.version}: {s.what}" for s in steps) + "); a run without check mode does it")


def upgrade(conn: Any) -> list[int]:
    """Bring the ledger to LATEST (the caller holds the runner lock); returns the versions it applied."""
    applied = []
    for step in pending_steps(current_version(conn)):
        with conn.transaction():
            conn.execute(step.ddl)
            if step.version >= 2:  # the layout table exists from version 2 on
                ledger_write.write(conn, "INSERT INTO dbops.ledger_layout (version) VALUES (%s) "
                                         "ON CONFLICT (version) DO NOTHING", (step.version,))
        applied.append(step.version)
    return applied
