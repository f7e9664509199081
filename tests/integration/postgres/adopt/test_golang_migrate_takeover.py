"""Taking over from golang-migrate's schema_migrations (version, dirty), written as its documentation describes."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptionRefused
from tests.support.pg_migrations import query, run

FILES = {
    "000001_create_users.up.sql": "CREATE TABLE users (id serial PRIMARY KEY, email text);\n",
    "000001_create_users.down.sql": "DROP TABLE users;\n",
    "000002_add_name.up.sql": "ALTER TABLE users ADD COLUMN name text;\n",
    "000002_add_name.down.sql": "ALTER TABLE users DROP COLUMN name;\n",
    "000010_add_age.up.sql": "ALTER TABLE users ADD COLUMN age int;\n",
    "000010_add_age.down.sql": "ALTER TABLE users DROP COLUMN age;\n",
}


@pytest.fixture
def golang_dir(migrations):
    for name, text in FILES.items():
        (migrations / name).write_text(text)
    return migrations


def golang_migrate_applies(dsn, migrations, up_to: int, *, dirty: bool = False) -> None:
    """What `migrate up` does: its table (version bigint, dirty boolean), one row with the version reached."""
    query(dsn, "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, "
               "dirty boolean NOT NULL)")
    for path in sorted(migrations.glob("*.up.sql")):
        version = int(path.name.split("_", 1)[0])
        if version <= up_to:
            query(dsn, "TRUNCATE schema_migrations")
            query(dsn, "INSERT INTO schema_migrations (version, dirty) VALUES (%s, true)", (version,))
            if not (dirty and version == up_to):
                query(dsn, path.read_text())
                query(dsn, "UPDATE schema_migrations SET dirty = false")


def test_versions_up_to_golang_migrate_s_are_taken_over(pg_db, golang_dir):
    golang_migrate_applies(pg_db, golang_dir, 2)
    preview = run(pg_db, golang_dir, check_mode=True)
    assert preview.baseline["versions"] == ["000001", "000002"] and preview.applied == ["000010"]
    result = run(pg_db, golang_dir)
    assert result.baseline["tool"] == "golang-migrate" and result.applied == ["000010"]
    assert query(pg_db, "SELECT version, dirty FROM public.schema_migrations") == [(2, False)]  # untouched
    assert run(pg_db, golang_dir).changed is False
    # Taken over means rolled back like any other set.
    back = run(pg_db, golang_dir, state="rolled_back", target="000001")
    assert back.rolled_back == ["000010", "000002"]


def test_a_dirty_version_refuses_and_says_what_was_left_half_done(pg_db, golang_dir):
    golang_migrate_applies(pg_db, golang_dir, 2, dirty=True)
    for check_mode in (True, False):
        with pytest.raises(AdoptionRefused, match=r"golang-migrate left version 2 dirty .*migrate force"):
            run(pg_db, golang_dir, check_mode=check_mode)
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]


def test_a_version_without_a_file_is_reported(pg_db, golang_dir):
    golang_migrate_applies(pg_db, golang_dir, 2)
    query(pg_db, "UPDATE schema_migrations SET version = 5")
    result = run(pg_db, golang_dir, check_mode=True)
    assert result.baseline["versions"] == ["000001", "000002"] and result.baseline["not_on_disk"] == ["5"]


def test_a_dbmate_directory_never_reads_golang_migrate_s_table(pg_db, migrations):
    query(pg_db, "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)")
    query(pg_db, "INSERT INTO schema_migrations VALUES (20240101000000, false)")
    (migrations / "20240101000000_a.sql").write_text("-- migrate:up\nCREATE TABLE a (id int);\n")
    result = run(pg_db, migrations, check_mode=True)
    assert result.baseline["tool"] is None and result.applied == ["20240101000000"]
