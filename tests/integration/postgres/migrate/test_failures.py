"""Failures leave the database as it was and say clearly what failed, where."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    ConnectionFailed,
    DependencyError,
    DestructiveChangeRefused,
    MigrationFailed,
    MigrationFormatError,
    ValidationFailed,
)
from tests.support.pg_migrations import ledger, query, run, write_set


def test_sql_error_in_third_statement_leaves_database_as_before(pg_cluster, pg_db, pg_db_name, migrations):
    write_set(migrations, "001_base", up="CREATE TABLE base (id int PRIMARY KEY);", down="DROP TABLE base;")
    write_set(migrations, "002_broken", up="""
        CREATE TABLE one (id int);
        INSERT INTO base VALUES (1), (2);
        ALTER TABLE no_such_table ADD COLUMN x int;
        CREATE TABLE four (id int);
        """, down="DROP TABLE one;")
    run(pg_db, migrations, target="001")
    before = pg_cluster.schema_dump(pg_db_name)
    with pytest.raises(MigrationFailed) as err:
        run(pg_db, migrations)
    message = str(err.value)
    assert message.startswith("002 (") and "postgres.up.sql" in message
    assert "statement 3 (line 4" in message and "no_such_table" in message
    assert err.value.result.failed == "002"
    assert err.value.result.sets[0]["status"] == "failed"

    assert pg_cluster.schema_dump(pg_db_name) == before
    assert query(pg_db, "SELECT count(*) FROM base") == [(0,)]
    status, error = ledger(pg_db)["002"]
    assert status == "failed" and "no_such_table" in error
    log = query(pg_db, "SELECT seq, status, error FROM dbops.migration_log WHERE version = '002' ORDER BY id")
    assert [(row[0], row[1]) for row in log] == [(1, "ok"), (2, "ok"), (3, "error")]
    assert "no_such_table" in log[2][2]

    # Fixed, the set applies on the next run.
    (migrations / "002_broken" / "postgres.up.sql").write_text("CREATE TABLE one (id int);")
    assert run(pg_db, migrations).applied == ["002"]
    assert ledger(pg_db)["002"] == ("applied", None)


def test_failed_verification_rolls_the_set_back(pg_cluster, pg_db, pg_db_name, migrations):
    write_set(migrations, "1_create", up="CREATE TABLE t (id int); INSERT INTO t VALUES (1), (-1);",
              down="DROP TABLE t;", verify="SELECT id FROM t WHERE id < 0")
    before = pg_cluster.schema_dump(pg_db_name)
    with pytest.raises(ValidationFailed) as err:
        run(pg_db, migrations)
    assert "1 (" in str(err.value) and "postgres.verify.sql" in str(err.value) and "(-1,)" in str(err.value)
    assert pg_cluster.schema_dump(pg_db_name) == before
    assert ledger(pg_db)["1"][0] == "failed"


def test_dependency_cycle_and_unknown_dependency_are_named(pg_db, migrations):
    write_set(migrations, "1_a", up="SELECT 1;", manifest={"depends_on": ["3"]})
    write_set(migrations, "2_b", up="SELECT 1;", manifest={"depends_on": ["1"]})
    write_set(migrations, "3_c", up="SELECT 1;", manifest={"depends_on": ["2"]})
    with pytest.raises(DependencyError) as err:
        run(pg_db, migrations)
    assert "cycle" in str(err.value) and "1 -> 3 -> 2 -> 1" in str(err.value)

    write_set(migrations, "3_c", up="SELECT 1;", manifest={"depends_on": ["2.5"]})
    with pytest.raises(DependencyError) as err:
        run(pg_db, migrations)
    assert str(err.value).startswith("3 (") and "unknown version 2.5" in str(err.value)
    assert query(pg_db, "SELECT to_regnamespace('dbops')") == [(None,)]


def test_malformed_migration_yml_names_the_file(pg_db, migrations):
    write_set(migrations, "2024.001_ok", up="SELECT 1;")
    bad = write_set(migrations, "2024.002_bad", up="SELECT 1;", manifest="description: [unclosed\n")
    with pytest.raises(MigrationFormatError) as err:
        run(pg_db, migrations)
    assert "2024.002" in str(err.value) and str(bad / "migration.yml") in str(err.value)
    assert "invalid YAML" in str(err.value)

    (bad / "migration.yml").write_text("depends_on: [2024.001]\n")
    with pytest.raises(MigrationFormatError, match="quoted string"):
        run(pg_db, migrations)
    (bad / "migration.yml").write_text("descripton: typo\n")
    with pytest.raises(MigrationFormatError, match="unknown key.*descripton"):
        run(pg_db, migrations)


def test_destructive_guard(pg_db, migrations):
    write_set(migrations, "1_create", up="CREATE TABLE t (a bigint, b varchar(100), c text, d numeric(10,2));",
              down="DROP TABLE t;")
    run(pg_db, migrations)

    drop = write_set(migrations, "2_drop", up="ALTER TABLE t DROP COLUMN c;", down="ALTER TABLE t ADD COLUMN c text;")
    with pytest.raises(DestructiveChangeRefused) as err:
        run(pg_db, migrations)
    assert str(err.value).startswith("2 (") and "DROP COLUMN t.c" in str(err.value)
    assert "2" not in ledger(pg_db)
    result = run(pg_db, migrations, allow_destructive=True)
    assert result.applied == ["2"] and any("destructive change allowed" in w for w in result.warnings)
    assert query(pg_db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' "
                        "AND column_name = 'c'") == [(0,)]
    (drop / "postgres.up.sql").write_text("ALTER TABLE t DROP COLUMN c;")

    # Narrowing type changes are refused; widening ones pass.
    write_set(migrations, "3_narrow", up="ALTER TABLE t ALTER COLUMN a TYPE integer;", down="SELECT 1;")
    with pytest.raises(DestructiveChangeRefused, match="narrowing type change of t.a from int8 to int4"):
        run(pg_db, migrations)
    write_set(migrations, "3_narrow", up="ALTER TABLE t ALTER COLUMN b TYPE varchar(20);", down="SELECT 1;")
    with pytest.raises(DestructiveChangeRefused, match="varchar\\(100\\) to varchar\\(20\\)"):
        run(pg_db, migrations)
    write_set(migrations, "3_narrow", up="ALTER TABLE t ALTER COLUMN b TYPE varchar(200), "
                                         "ALTER COLUMN d TYPE numeric(14,2), ALTER COLUMN a TYPE numeric;",
              down="SELECT 1;")
    assert run(pg_db, migrations).applied == ["3"]

    for sql in ("DROP TABLE t;", "TRUNCATE t;", "DELETE FROM t;", "DROP SCHEMA public CASCADE;"):
        write_set(migrations, "4_more", up=sql, down="SELECT 1;")
        with pytest.raises(DestructiveChangeRefused):
            run(pg_db, migrations)
    write_set(migrations, "4_more", up="DELETE FROM t WHERE a < 0;", down="SELECT 1;",
              manifest={"destructive": True})
    with pytest.raises(DestructiveChangeRefused, match="declares destructive"):
        run(pg_db, migrations)


def test_wrong_credentials_and_unreachable_server(pg_cluster, pg_db_name, migrations):
    write_set(migrations, "1_a", up="SELECT 1;")
    wrong = pg_cluster.dsn(pg_db_name, password="not-the-password")
    with pytest.raises(ConnectionFailed) as err:
        run(wrong, migrations)
    assert "refused the credentials" in str(err.value) and "not-the-password" not in str(err.value)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    unreachable = f"postgresql://postgres:s3cret@127.0.0.1:{closed_port}/x"
    with pytest.raises(ConnectionFailed) as err:
        run(unreachable, migrations)
    assert f"cannot reach PostgreSQL at postgres@127.0.0.1:{closed_port}/x" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_failed_verification_after_segments_is_compensated_by_the_down(pg_cluster, pg_db, pg_db_name, migrations):
    write_set(migrations, "1_base", up="CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, -1);",
              down="DROP TABLE t;")
    run(pg_db, migrations)
    before = pg_cluster.schema_dump(pg_db_name)
    write_set(migrations, "2_index", up="CREATE INDEX CONCURRENTLY t_v_idx ON t (v);",
              down="DROP INDEX CONCURRENTLY IF EXISTS t_v_idx;", verify="SELECT id FROM t WHERE v < 0")
    with pytest.raises(ValidationFailed) as err:
        run(pg_db, migrations)
    assert "postgres part compensated" in str(err.value)
    assert pg_cluster.schema_dump(pg_db_name) == before
    status, error = ledger(pg_db)["2"]
    assert status == "rolled_back" and error.startswith("compensated: the set failed: verification query")
