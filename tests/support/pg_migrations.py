"""PostgreSQL migration tests' helpers: migration trees in tmp dirs, running the engine, reading the ledger."""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine


def write_set(root: Path, name: str, *, up: str | None = None, down: str | None = None, verify: str | None = None,
              manifest: dict | str | None = None) -> Path:
    """Create <root>/<name>/ with the given files."""
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    if up is not None:
        (directory / "postgres.up.sql").write_text(up)
    if down is not None:
        (directory / "postgres.down.sql").write_text(down)
    if verify is not None:
        (directory / "postgres.verify.sql").write_text(verify)
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest, sort_keys=False)
        (directory / "migration.yml").write_text(text)
    return directory


def run(dsn: str, migrations: Path, **kwargs) -> engine.RunResult:
    kwargs.setdefault("runner_lock_wait_s", 10)
    kwargs.setdefault("lock_timeout_ms", 2000)
    return engine.run(engine.RunRequest(migrations_dir=str(migrations), postgres_dsn=dsn, **kwargs))


def query(dsn: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def ledger(dsn: str) -> dict[str, tuple]:
    rows = query(dsn, "SELECT version, status, error FROM dbops.schema_migrations")
    return {r[0]: (r[1], r[2]) for r in rows}
