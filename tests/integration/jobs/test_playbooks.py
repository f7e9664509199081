"""The playbooks end to end with ansible-playbook: wal_archiving.yml (restart once, then idempotent), backup.yml,
recovery_point.yml, a disaster, pitr.yml to the recovery point, with exact row checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.backup_env import PG_BIN_DIR
from tests.support.pg_cluster import PG_OS_USER, new_cluster
from tests.support.wal_archiver import stop_role_uploaders

ROOT = Path(__file__).resolve().parents[3]


def playbook(name: str, variables: dict, *extra: str) -> subprocess.CompletedProcess:
    vars_file = Path(variables["dbops_archiver_dir"]).parent / "vars.json"
    vars_file.write_text(json.dumps(variables))
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
            str(ROOT / "playbooks" / name), "-e", f"@{vars_file}", "-e", "dbops_target=localhost", *extra]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=600,
                            check=False)
    print(f"{name}: {time.monotonic() - started:.1f}s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def recap_changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("localhost") and "changed=" in line)
    return int(line.split("changed=")[1].split()[0])


def rows(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("select id from t order by id").fetchall()]


def execute_one(dsn: str, sql: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return str(row[0]) if row else ""


def execute(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="dbops-playbooks-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        stop_role_uploaders(path / "archiver")
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_playbooks_backup_recovery_point_and_pitr(workdir):
    cluster = new_cluster()
    try:
        dsn = cluster.dsn()
        variables = {
            "dbops_postgres_dsn": dsn, "dbops_pgdata": str(cluster.datadir), "dbops_pg_bin_dir": PG_BIN_DIR,
            "dbops_pg_os_user": PG_OS_USER, "dbops_repository": str(workdir / "repository"),
            "dbops_archiver_dir": str(workdir / "archiver"),
        }
        first = playbook("wal_archiving.yml", variables)
        assert "restarted=True" in first.stdout
        # archive_command hands segments to the uploader the role started under its pid-file supervisor.
        assert "dbops-wal-push" in execute_one(dsn, "show archive_command")
        assert list((workdir / "archiver").glob("spool/*/uploader.pid"))
        again = playbook("wal_archiving.yml", variables)
        assert recap_changed(again.stdout) == 0, again.stdout[-3000:]

        execute(dsn, "create table t (id int primary key)")
        execute(dsn, "insert into t select generate_series(1, 10)")
        playbook("backup.yml", variables)
        execute(dsn, "insert into t select generate_series(11, 20)")
        point = playbook("recovery_point.yml", {**variables, "dbops_recovery_point": "before_disaster"})
        assert "recovery point before_disaster" in point.stdout
        execute(dsn, "insert into t select generate_series(21, 30)")
        execute(dsn, "drop table t")  # the disaster

        restored = playbook("pitr.yml", {**variables, "dbops_target_name": "before_disaster"})
        assert "verified: True" in restored.stdout
        assert rows(dsn) == list(range(1, 21))
        assert list(cluster.base_dir.glob("data.dbops-before-restore-*")), "the old data directory is kept"
    finally:
        cluster.destroy()
