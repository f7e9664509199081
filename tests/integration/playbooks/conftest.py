"""Fixtures of the Ansible-level tests: a fresh database, a copy of the PostgreSQL sample sets, dbops_* inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sample_sets import postgres_sample_sets


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    return postgres_sample_sets(tmp_path / "migrations")


@pytest.fixture
def dbops_vars(pg_db: str, samples: Path, tmp_path: Path) -> dict:
    """The dbops_* variables of a run against the test's database; tests add or override keys."""
    return {
        "dbops_postgres_dsn": pg_db,
        "dbops_migrations_dir": str(samples),
        "dbops_report_dir": str(tmp_path / "reports"),
        "dbops_environment": "test",
        "dbops_lock_timeout": "2s",
        "dbops_runner_lock_timeout": 30,
    }
