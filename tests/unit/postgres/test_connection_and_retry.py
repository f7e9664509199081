"""Secrets never appear in messages; lock retries back off."""

from __future__ import annotations

import psycopg.errors
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    connect,
    describe_dsn,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import (
    backoff_delay,
    with_lock_retry,
)


def test_mask_secrets():
    assert redact("postgresql://app:hunter2@db:5432/x") == "postgresql://app:********@db:5432/x"
    assert "hunter2" not in redact("host=db password=hunter2 user=app")
    assert "hunter2" not in redact("host=db password='hun ter2' user=app")
    assert redact("CREATE ROLE app LOGIN PASSWORD 'hunter2'") == "CREATE ROLE app LOGIN PASSWORD '********'"


def test_describe_dsn():
    assert describe_dsn("postgresql://app:pw@db:6432/main") == "app@db:6432/main"
    assert describe_dsn("host=db user=app") == "app@db:5432/app"


def test_invalid_dsn_is_a_clear_error():
    with pytest.raises(ConnectionFailed, match="invalid postgres_dsn") as err:
        connect("host=db password=hunter2 nonsense_option=1")
    assert "hunter2" not in str(err.value)


def test_error_message_names_version_and_path():
    assert str(DbopsError("boom", version="2024.001", path="/m/x.sql")) == "2024.001 (/m/x.sql): boom"
    assert str(DbopsError("boom", version="7")) == "7: boom"
    assert str(DbopsError("boom")) == "boom"


def test_backoff_grows_and_is_capped():
    delays = [backoff_delay(n) for n in range(1, 12)]
    assert delays[0] < 0.3 and delays[3] > delays[0] * 4 and max(delays) <= 12.5


def test_lock_failures_are_retried_then_raised():
    attempts, sleeps = [], []

    def work(attempt):
        attempts.append(attempt)
        raise psycopg.errors.LockNotAvailable("lock timeout")

    with pytest.raises(psycopg.errors.LockNotAvailable):
        with_lock_retry(work, retries=3, sleep=sleeps.append)
    assert attempts == [1, 2, 3, 4] and len(sleeps) == 3

    def other(attempt):
        attempts.append(attempt)
        raise psycopg.errors.UndefinedTable("no table")

    attempts.clear()
    with pytest.raises(psycopg.errors.UndefinedTable):
        with_lock_retry(other, retries=3, sleep=sleeps.append)
    assert attempts == [1]
