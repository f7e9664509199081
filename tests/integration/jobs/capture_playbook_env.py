"""What the change capture playbook tests share: a work directory cleaned of the services they leave running,
and the variables of both databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.ansible_cli import PlaybookRun, run_playbook
from tests.support.backup_env import PG_BIN_DIR
from tests.support.capture_service import stop_capture_services
from tests.support.pg_cluster import PG_OS_USER, PgCluster, chown_to_pg_user, new_cluster
from tests.support.wal_archiver import stop_role_uploaders


def work_directory() -> Iterator[Path]:
    """(a fixture's body: the test files register it as `workdir`)"""
    path = Path(tempfile.mkdtemp(prefix="dbops-capture-e2e-"))
    os.chmod(path, 0o755)  # the cluster's OS user reads the archiver installed below it
    try:
        yield path
    finally:
        for archiver in (path / "install").glob("postgres-*"):
            stop_role_uploaders(archiver)
        stop_capture_services(path / "install")
        shutil.rmtree(path, ignore_errors=True)


def cluster_of_its_own() -> Iterator[PgCluster]:
    """(a fixture's body: the test files register it as `fresh_cluster`)"""
    cluster = new_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def both_databases(cluster: PgCluster, workdir: Path, mongo_server: str, mongo_db_name: str) -> dict:
    """The dbops_* variables of both databases, everything installed below <workdir>/install."""
    repository = workdir / "repository"
    repository.mkdir()
    chown_to_pg_user(repository)
    return {
        "dbops_postgres_dsn": cluster.dsn(), "dbops_pgdata": str(cluster.datadir), "dbops_pg_bin_dir": PG_BIN_DIR,
        "dbops_pg_os_user": PG_OS_USER, "dbops_repository": str(repository),
        "dbops_mongodb_uri": mongo_server, "dbops_mongodb_database": mongo_db_name,
        "dbops_archiving_install_dir": str(workdir / "install"), "dbops_capture_flush_interval": 0.2,
    }


def play(name: str, variables: dict, workdir: Path, *extra: str) -> PlaybookRun:
    run = run_playbook(name, dict(variables), workdir, *extra, timeout=300)
    assert run.returncode == 0, run.explain()
    return run


def execute(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def setting(dsn: str, name: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select current_setting(%s)", (name,)).fetchone()
    return str(row[0]) if row else ""
