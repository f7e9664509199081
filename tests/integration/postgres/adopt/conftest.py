"""Fixtures of the adoption tests: a migrations directory, the real dbmate binary, schema dumps without ledgers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
DEFAULT_DBMATE = ROOT / "build" / "tools" / "node_modules" / ".bin" / "dbmate"


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    root = tmp_path / "migrations"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def dbmate() -> Path:
    """The dbmate binary the Makefile installs (DBOPS_DBMATE); missing is a failure, never a skip."""
    binary = Path(os.environ.get("DBOPS_DBMATE") or DEFAULT_DBMATE)
    if not binary.exists():
        pytest.fail(f"dbmate is not installed at {binary}: run `make setup` (its `tools` step installs it)")
    return binary


def run_dbmate(binary: Path, dsn: str, migrations_dir: Path, *args: str) -> str:
    url = dsn + ("&" if "?" in dsn else "?") + "sslmode=disable"
    done = subprocess.run([str(binary), "--url", url, "--migrations-dir", str(migrations_dir), "--no-dump-schema",
                           *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"dbmate {' '.join(args)} failed: {done.stderr}{done.stdout}"
    return done.stdout


def schema_without_ledgers(pg_cluster, dbname: str, tool_tables: tuple[str, ...]) -> str:
    """pg_dump --schema-only of the database without the engine's ledger and the other tool's history table."""
    argv = [pg_cluster.bin("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "--exclude-schema", "dbops"]
    for table in tool_tables:
        argv += ["--exclude-table", table]
    out = subprocess.run([*argv, pg_cluster.dsn(dbname)], check=True, capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))
