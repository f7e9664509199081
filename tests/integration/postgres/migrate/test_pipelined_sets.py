"""Sets run pipelined (BEGIN with the first statement, the ledger rows with the COMMIT): many sets in one run,
ALTER and DROP among them (psycopg then drops its prepared statements), a failing statement and a failing ledger
write each leave nothing behind."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from tests.support.pg_migrations import ledger, query, run, write_set

SETS = 14  # more than psycopg's prepare threshold (5): the ledger writes run prepared for most sets


def _altering_sets(root) -> None:
    for index in range(1, SETS + 1):
        up = f"CREATE TABLE t{index} (id int);\nALTER TABLE t{index} ADD COLUMN name text;\n"
        if index > 1:
            up += f"DROP TABLE t{index - 1}_scratch;\n"
        up += f"CREATE TABLE t{index}_scratch (id int);\n"
        write_set(root, f"{index:04d}_t{index}", up=up, down=f"DROP TABLE t{index};")


def test_many_sets_with_alter_and_drop_are_applied_and_logged(pg_db, migrations):
    _altering_sets(migrations)
    result = run(pg_db, migrations, allow_destructive=True)
    assert len(result.applied) == SETS
    assert set(ledger(pg_db).values()) == {("applied", None)}
    per_set = query(pg_db, "SELECT version, count(*) FROM dbops.migration_log WHERE direction = 'up' "
                           "AND status = 'ok' GROUP BY version ORDER BY version")
    assert per_set == [(f"{i:04d}", 3 if i == 1 else 4) for i in range(1, SETS + 1)]
    rolled = run(pg_db, migrations, state="rolled_back", target="0001", allow_destructive=True)
    assert len(rolled.rolled_back) == SETS - 1


def test_a_failing_statement_rolls_back_the_whole_set_and_logs_the_error(pg_db, migrations):
    write_set(migrations, "0001_ok", up="CREATE TABLE ok_t (id int);", down="DROP TABLE ok_t;")
    write_set(migrations, "0002_bad", up="CREATE TABLE bad_t (id int);\nSELECT 1/0;\n", down="DROP TABLE bad_t;")
    with pytest.raises(MigrationFailed, match=r"statement 2 .*division by zero"):
        run(pg_db, migrations)
    assert query(pg_db, "SELECT to_regclass('bad_t') IS NULL, to_regclass('ok_t') IS NOT NULL") == [(True, True)]
    assert ledger(pg_db)["0002"][0] == "failed"
    logged = query(pg_db, "SELECT seq, status FROM dbops.migration_log WHERE version = '0002' ORDER BY seq")
    assert logged == [(1, "ok"), (2, "error")]


def test_a_failing_ledger_write_skips_the_commit(pg_db, migrations):
    write_set(migrations, "0001_ok", up="CREATE TABLE ok_t (id int);", down="DROP TABLE ok_t;")
    run(pg_db, migrations)
    # A trigger refuses the next set's ledger row: the COMMIT queued behind that write must not run.
    query(pg_db, """
        CREATE FUNCTION dbops.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'applied' THEN RAISE EXCEPTION 'ledger refused'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON dbops.schema_migrations
            FOR EACH ROW EXECUTE FUNCTION dbops.refuse();
        """)
    write_set(migrations, "0002_refused", up="CREATE TABLE refused_t (id int);", down="DROP TABLE refused_t;")
    with pytest.raises(MigrationFailed, match="ledger refused"):
        run(pg_db, migrations)
    assert query(pg_db, "SELECT to_regclass('refused_t') IS NULL") == [(True,)]
    assert ledger(pg_db)["0002"][0] == "failed"


def test_without_pipeline_support_the_same_queries_run_one_by_one(pg_db, migrations, monkeypatch):
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import pipelined

    monkeypatch.setattr(pipelined.psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    write_set(migrations, "0001_a", up="CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN b text;\n",
              down="DROP TABLE a;")
    write_set(migrations, "0002_bad", up="CREATE TABLE bad_t (id int);\nSELECT 1/0;\n", down="DROP TABLE bad_t;")
    with pytest.raises(MigrationFailed, match=r"statement 2 .*division by zero"):
        run(pg_db, migrations)
    assert {v: s for v, (s, _e) in ledger(pg_db).items()} == {"0001": "applied", "0002": "failed"}
    assert query(pg_db, "SELECT to_regclass('bad_t') IS NULL") == [(True,)]
    assert query(pg_db, "SELECT count(*) FROM dbops.migration_log WHERE version = '0001'") == [(2,)]
