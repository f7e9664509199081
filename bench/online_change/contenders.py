"""The two ways of changing bench.orders.amount from integer to bigint while the application writes to it:
the plain ALTER TABLE (one statement: it takes an ACCESS EXCLUSIVE lock and rewrites the table under it), and
sevenp.dbops' online change declared in migration.yml (a shadow table kept in step by triggers, copied in
batches, then swapped in under a short lock), run by the engine like any migration set.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

from bench.backfill.contenders import Deadline
from bench.online_change.dataset import COLUMN, NEW_TYPE, OLD_TYPE, QUALIFIED, TABLE

ENGINE_MODULE = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.engine"
ONLINE_CHANGE_PACKAGE = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change"
ALTER = f"ALTER COLUMN {COLUMN} TYPE {NEW_TYPE}"
REVERT = f"ALTER COLUMN {COLUMN} TYPE {OLD_TYPE}"


@dataclass
class Outcome:
    seconds: float
    stopped: str | None = None  # why the run did not finish (it was stopped after --max-seconds)
    detail: str | None = None  # what the engine reported about its run


def engine_missing() -> str | None:
    """Why the online change cannot run in this checkout (None: it can). Call after use_collection_imports()."""
    for module, what in ((ENGINE_MODULE, "the migrations engine"), (ONLINE_CHANGE_PACKAGE, "the online change engine")):
        if importlib.util.find_spec(module) is None:
            return f"{what} ({module.replace('.', '/').split('sevenp/dbops/', 1)[-1]}) is not in this checkout"
    return None


def write_migration_set(root: Path, batch_time: str | None, batch_size: int | None, lock_timeout: str) -> Path:
    """One native set holding nothing but migration.yml's online_change (no postgres.up.sql)."""
    set_dir = root / f"0001_widen_{TABLE}_{COLUMN}"
    set_dir.mkdir(parents=True)
    change: dict = {"table": QUALIFIED, "alter": [ALTER], "revert": [REVERT], "lock_timeout": lock_timeout}
    if batch_time is not None:
        change["batch_time"] = batch_time
    if batch_size is not None:
        change["batch_size"] = batch_size
    manifest = {"description": f"{QUALIFIED}.{COLUMN} {OLD_TYPE} -> {NEW_TYPE}, online", "online_change": [change]}
    (set_dir / "migration.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root


def plain_alter(dsn: str) -> Outcome:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(f"ALTER TABLE {QUALIFIED} {ALTER}")
        return Outcome(seconds=time.perf_counter() - started)


def online_change(dsn: str, migrations_dir: Path, deadline: Deadline) -> Outcome:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine

    stopped = None
    started = time.perf_counter()
    with deadline:
        try:
            result = engine.run(engine.RunRequest(migrations_dir=str(migrations_dir), state="applied",
                                                  target="latest", postgres_dsn=dsn))
        except DbopsError as exc:
            if not deadline.fired:
                raise
            stopped = f"stopped after the time limit: {exc}"
    elapsed = time.perf_counter() - started
    if stopped is not None:
        return Outcome(seconds=elapsed, stopped=stopped)
    if list(result.applied) != ["0001"]:
        raise RuntimeError(f"engine applied {result.applied!r}, expected ['0001']")
    with psycopg.connect(dsn) as conn:
        # The engine's own account of the change (copy, catch-up, swap), the last lines of its log.
        logged = conn.execute("SELECT direction, statement FROM dbops.migration_log WHERE version = '0001'"
                              " ORDER BY id DESC LIMIT 3").fetchall()
    detail = " | ".join(f"{direction}: {' '.join(statement.split())[:160]}"
                        for direction, statement in reversed(logged))
    return Outcome(seconds=elapsed, detail=detail or None)
