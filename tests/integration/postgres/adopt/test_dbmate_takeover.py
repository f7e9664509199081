"""dbmate itself migrates a database part-way; `migrate` takes over from its history and finishes the job."""

from __future__ import annotations

import shutil
import uuid

import pytest

from tests.integration.postgres.adopt.conftest import run_dbmate, schema_without_ledgers
from tests.support.pg_migrations import query, run

FILES = {
    "20240101120000_create_users.sql": "-- migrate:up\nCREATE TABLE users (id serial PRIMARY KEY, email text);\n\n"
                                       "-- migrate:down\nDROP TABLE users;\n",
    "20240102120000_add_index.sql": "-- migrate:up transaction:false\n"
                                    "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\n"
                                    "-- migrate:down\nDROP INDEX users_email_idx;\n",
    "20240201000000_add_name.sql": "-- migrate:up\nALTER TABLE users ADD COLUMN name text;\n"
                                   "-- migrate:down\nALTER TABLE users DROP COLUMN name;\n",
}
VERSIONS = sorted(name.split("_", 1)[0] for name in FILES)


@pytest.fixture
def dbmate_dirs(migrations, tmp_path):
    """(the whole directory, a copy holding only the first two migrations)."""
    for name, text in FILES.items():
        (migrations / name).write_text(text)
    part_way = tmp_path / "part_way"
    part_way.mkdir()
    for name in sorted(FILES)[:2]:
        shutil.copy(migrations / name, part_way / name)
    return migrations, part_way


@pytest.fixture
def reference_schema(pg_cluster, dbmate, dbmate_dirs):
    """The schema dbmate alone produces from every migration."""
    name = "ref_" + uuid.uuid4().hex[:10]
    dsn = pg_cluster.create_database(name)
    try:
        run_dbmate(dbmate, dsn, dbmate_dirs[0], "migrate")
        return schema_without_ledgers(pg_cluster, name, ("public.schema_migrations",))
    finally:
        pg_cluster.drop_database(name)


def _dbmate_rows(dsn):
    return query(dsn, "SELECT version FROM public.schema_migrations ORDER BY version")


def test_migrate_takes_over_from_dbmate_and_finishes(pg_cluster, pg_db, pg_db_name, dbmate, dbmate_dirs,
                                                     reference_schema):
    full, part_way = dbmate_dirs
    run_dbmate(dbmate, pg_db, part_way, "migrate")
    history = _dbmate_rows(pg_db)
    assert history == [(v,) for v in VERSIONS[:2]]

    # Check mode: the baseline it would record, and nothing recorded.
    preview = run(pg_db, full, check_mode=True)
    assert preview.baseline == {"tool": "dbmate", "versions": VERSIONS[:2], "recorded": False, "not_on_disk": [],
                                "drift": [], "reapplied": []}
    assert preview.applied == VERSIONS[2:] and preview.changed is True
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]

    result = run(pg_db, full)
    assert result.baseline["versions"] == VERSIONS[:2] and result.baseline["recorded"] is True
    assert result.applied == VERSIONS[2:] and result.current == VERSIONS[-1]
    rows = query(pg_db, "SELECT version, status, applied_from FROM dbops.schema_migrations ORDER BY version")
    assert rows[:2] == [(v, "applied", "baseline from dbmate") for v in VERSIONS[:2]]
    assert rows[2][:2] == (VERSIONS[2], "applied") and not rows[2][2].startswith("baseline")  # the engine ran it
    assert any("baseline from dbmate" in w for w in result.warnings)
    # dbmate's history is left as it was: the team can go back to dbmate.
    assert _dbmate_rows(pg_db) == history
    assert schema_without_ledgers(pg_cluster, pg_db_name, ("public.schema_migrations",)) == reference_schema

    again = run(pg_db, full)
    assert again.changed is False and again.baseline["versions"] == []


def test_adopt_none_reads_nothing(pg_db, dbmate, dbmate_dirs):
    full, part_way = dbmate_dirs
    run_dbmate(dbmate, pg_db, part_way, "migrate")
    result = run(pg_db, full, check_mode=True, adopt="none")
    assert result.baseline == {"tool": None, "versions": [], "recorded": False, "not_on_disk": [], "drift": [],
                               "reapplied": []}
    assert result.applied == VERSIONS  # without adoption it would apply version 1 again


def test_a_version_dbmate_applied_without_a_file_is_reported_not_invented(pg_db, dbmate, dbmate_dirs):
    full, part_way = dbmate_dirs
    run_dbmate(dbmate, pg_db, part_way, "migrate")
    query(pg_db, "INSERT INTO public.schema_migrations (version) VALUES ('20231231000000')")
    result = run(pg_db, full)
    assert result.baseline["not_on_disk"] == ["20231231000000"]
    assert any("20231231000000: applied according to dbmate's history" in w for w in result.warnings)
    assert "20231231000000" not in [r[0] for r in query(pg_db, "SELECT version FROM dbops.schema_migrations")]


def test_a_golang_migrate_directory_never_reads_dbmate_s_table(pg_db, dbmate, dbmate_dirs, tmp_path):
    """Both tools call their table schema_migrations: only golang-migrate's has `dirty`."""
    run_dbmate(dbmate, pg_db, dbmate_dirs[1], "migrate")
    golang = tmp_path / "golang"
    golang.mkdir()
    (golang / "20240101120000_create_users.up.sql").write_text("CREATE TABLE users (id int);\n")
    auto = run(pg_db, golang, check_mode=True)
    assert auto.baseline["tool"] is None and auto.applied == ["20240101120000"]
    named = run(pg_db, golang, check_mode=True, adopt="golang-migrate")
    assert named.baseline["tool"] is None
    assert any("no golang-migrate history" in w for w in named.warnings)
