"""golang-migrate, Flyway and dbmate directories are applied and rolled back as they are."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import IrreversibleMigration
from tests.support.pg_migrations import ledger, query, run

FORMATS = {
    "golang-migrate": {
        "000001_create_users.up.sql": "BEGIN;\nCREATE TABLE users (id serial PRIMARY KEY, email text);\nCOMMIT;\n",
        "000001_create_users.down.sql": "DROP TABLE users;\n",
        "000002_add_index.up.sql": "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
        "000002_add_index.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;\n",
        "000010_add_name.up.sql": "ALTER TABLE users ADD COLUMN name text;\n",
        "000010_add_name.down.sql": "ALTER TABLE users DROP COLUMN name;\n",
    },
    "flyway": {
        "V1__create_users.sql": "CREATE TABLE users (id serial PRIMARY KEY, email text);\n",
        "U1__create_users.sql": "DROP TABLE users;\n",
        "V1_1__add_index.sql": "CREATE INDEX users_email_idx ON users (email);\n",
        "U1_1__add_index.sql": "DROP INDEX users_email_idx;\n",
        "V12__add_name.sql": "ALTER TABLE users ADD COLUMN name text;\n",
        "U12__add_name.sql": "ALTER TABLE users DROP COLUMN name;\n",
    },
    "dbmate": {
        "20240101120000_create_users.sql": "-- migrate:up\nCREATE TABLE users (id serial PRIMARY KEY, email text);\n\n"
                                           "-- migrate:down\nDROP TABLE users;\n",
        "20240102120000_add_index.sql": "-- migrate:up transaction:false\n"
                                        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\n"
                                        "-- migrate:down\nDROP INDEX users_email_idx;\n",
        "20240201000000_add_name.sql": "-- migrate:up\nALTER TABLE users ADD COLUMN name text;\n"
                                       "-- migrate:down\nALTER TABLE users DROP COLUMN name;\n",
    },
}
VERSIONS = {
    "golang-migrate": ["000001", "000002", "000010"],
    "flyway": ["1", "1.1", "12"],
    "dbmate": ["20240101120000", "20240102120000", "20240201000000"],
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_adopted_format_applies_and_rolls_back(fmt, pg_cluster, pg_db, pg_db_name, migrations):
    for name, text in FORMATS[fmt].items():
        (migrations / name).write_text(text)
    empty = pg_cluster.schema_dump(pg_db_name)
    result = run(pg_db, migrations, allow_destructive=False)
    assert result.format == fmt
    assert result.applied == VERSIONS[fmt]
    assert result.current == VERSIONS[fmt][-1]
    assert query(pg_db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_idx'") == [(1,)]
    assert set(ledger(pg_db)) == set(VERSIONS[fmt])
    assert run(pg_db, migrations).changed is False

    back = run(pg_db, migrations, state="rolled_back", target=VERSIONS[fmt][0])
    assert back.rolled_back == VERSIONS[fmt][:0:-1]
    run(pg_db, migrations, state="rolled_back", target="0")
    assert pg_cluster.schema_dump(pg_db_name) == empty


def test_dbmate_empty_down_section_is_irreversible(pg_db, migrations):
    (migrations / "20240101000000_a.sql").write_text("-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\n\n")
    run(pg_db, migrations)
    with pytest.raises(IrreversibleMigration, match="migrate:down section has no SQL"):
        run(pg_db, migrations, state="rolled_back", target="0")
