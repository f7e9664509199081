"""Statements, errors and details stored in the ledger (schema dbops) never hold a password."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from tests.support.pg_migrations import query, run, write_set

ROLE_SECRET = "hunter2secret"
MAPPING_SECRET = "fdwmapping42secret"
FAILED_SECRET = "failing77secret"


def _dbops_text(dsn: str) -> str:
    """Every row of every table in schema dbops, as text."""
    tables = [r[0] for r in query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'dbops'")]
    rows = []
    for table in tables:
        rows += [r[0] for r in query(dsn, f'SELECT t::text FROM dbops."{table}" t')]
    return "\n".join(rows)


@pytest.fixture
def role_name(pg_db):
    name = "r_" + uuid.uuid4().hex[:10]
    yield name
    query(pg_db, f"DROP OWNED BY {name}; DROP ROLE IF EXISTS {name}" if query(
        pg_db, "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) else "SELECT 1")


def test_passwords_in_statements_and_errors_never_reach_the_ledger(pg_db, migrations, role_name):
    fdw = bool(query(pg_db, "SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'"))
    mapping = f"""
        CREATE EXTENSION IF NOT EXISTS postgres_fdw;
        CREATE SERVER remote_{role_name} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'localhost', dbname 'x');
        CREATE USER MAPPING FOR {role_name} SERVER remote_{role_name}
            OPTIONS (user 'remote', password '{MAPPING_SECRET}');
        """ if fdw else ""
    write_set(migrations, "1_role", up=f"CREATE ROLE {role_name} LOGIN PASSWORD '{ROLE_SECRET}';" + mapping,
              down=(f"DROP SERVER remote_{role_name} CASCADE;" if fdw else "") + f"DROP ROLE {role_name};")
    # Run statement by statement (transaction: false): the segment path's log and error writes, a failure too.
    write_set(migrations, "2_rotate", up=f"""
        ALTER ROLE {role_name} PASSWORD E'{ROLE_SECRET}';
        ALTER ROLE missing_{role_name} PASSWORD '{FAILED_SECRET}';
        """, manifest={"postgres": {"transaction": False}})

    with pytest.raises(MigrationFailed) as err:
        run(pg_db, migrations)
    assert "statement 2" in str(err.value)
    stored = _dbops_text(pg_db)
    assert "********" in stored  # the statements are logged, masked
    assert f"CREATE ROLE {role_name} LOGIN PASSWORD" in stored
    for secret in (ROLE_SECRET, MAPPING_SECRET, FAILED_SECRET):
        assert secret not in stored
        assert secret not in str(err.value)
    if fdw:
        assert "CREATE USER MAPPING" in stored
    # The log keeps a fingerprint of each statement's original text.
    assert query(pg_db, "SELECT count(*) FROM dbops.migration_log WHERE statement_sha IS NULL") == [(0,)]


def test_passwords_never_leave_through_the_result_planned_or_run(pg_db, migrations, role_name):
    write_set(migrations, "1_role", up=f"CREATE ROLE {role_name} LOGIN PASSWORD '{ROLE_SECRET}';",
              down=f"DROP ROLE {role_name};")
    write_set(migrations, "2_link", up=f"""
        CREATE TABLE link_{role_name} (conn text DEFAULT 'host=h password={MAPPING_SECRET} dbname=d');
        """, down=f"DROP TABLE link_{role_name};")
    planned = run(pg_db, migrations, check_mode=True).to_dict()
    assert planned["queries"], planned
    applied = run(pg_db, migrations).to_dict()
    assert applied["applied"] == ["1", "2"]
    rolled_back = run(pg_db, migrations, state="rolled_back", target="0").to_dict()
    for result in (planned, applied, rolled_back):
        text = repr(result)
        assert ROLE_SECRET not in text and MAPPING_SECRET not in text
    assert "PASSWORD '********'" in repr(planned) and "password=********" in repr(applied)
