"""Taking over from Flyway's history: versioned and repeatable rows, checksums, failed rows, placeholders."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DriftError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import AdoptionRefused
from tests.integration.postgres.adopt.conftest import schema_without_ledgers
from tests.integration.postgres.adopt.flyway_history import flyway_applies, history_rows
from tests.support.pg_migrations import query, run

FILES = {
    "V1__create_users.sql": "CREATE TABLE ${schema}.users (id serial PRIMARY KEY, email text);\n",
    "V1_1__add_index.sql": "CREATE INDEX users_email_idx ON ${schema}.users (email);\r\n",
    "V2__add_name.sql": "ALTER TABLE ${schema}.users ADD COLUMN name text;\n",
    "R__user_emails.sql": "CREATE OR REPLACE VIEW ${schema}.user_emails AS SELECT email FROM ${schema}.users;\n",
}
PLACEHOLDERS = {"schema": "public"}


@pytest.fixture
def flyway_dir(migrations):
    for name, text in FILES.items():
        (migrations / name).write_text(text, newline="")
    return migrations


def test_takes_over_versions_and_repeatables_and_applies_the_rest(pg_cluster, pg_db, pg_db_name, flyway_dir):
    flyway_applies(pg_db, flyway_dir, ["V1__create_users.sql", "V1_1__add_index.sql", "R__user_emails.sql"],
                   replace=PLACEHOLDERS)
    before = history_rows(pg_db)

    preview = run(pg_db, flyway_dir, check_mode=True, placeholders=PLACEHOLDERS)
    assert preview.baseline["versions"] == ["1", "1.1", "R__user_emails"] and preview.baseline["recorded"] is False
    assert preview.applied == ["2"]
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]

    result = run(pg_db, flyway_dir, placeholders=PLACEHOLDERS)
    assert result.baseline["tool"] == "flyway" and result.baseline["recorded"] is True
    assert result.applied == ["2"] and result.current == "2"
    assert query(pg_db, "SELECT version, applied_from FROM dbops.schema_migrations WHERE applied_from LIKE "
                        "'baseline%%' ORDER BY version") == [
        ("1", "baseline from flyway"), ("1.1", "baseline from flyway"), ("R__user_emails", "baseline from flyway")]
    assert history_rows(pg_db) == before  # Flyway's table is left untouched

    # Flyway alone would produce the same schema.
    reference = pg_cluster.create_database(pg_db_name + "_ref")
    try:
        flyway_applies(reference, flyway_dir, list(FILES), replace=PLACEHOLDERS)
        assert (schema_without_ledgers(pg_cluster, pg_db_name, ("public.flyway_schema_history",))
                == schema_without_ledgers(pg_cluster, pg_db_name + "_ref", ("public.flyway_schema_history",)))
    finally:
        pg_cluster.drop_database(pg_db_name + "_ref")

    assert run(pg_db, flyway_dir, placeholders=PLACEHOLDERS).changed is False


def test_a_repeatable_changed_since_flyway_applied_it_is_applied_again(pg_db, flyway_dir):
    flyway_applies(pg_db, flyway_dir, list(FILES), replace=PLACEHOLDERS)
    (flyway_dir / "R__user_emails.sql").write_text(
        "CREATE OR REPLACE VIEW ${schema}.user_emails AS SELECT email, name FROM ${schema}.users;\n")
    result = run(pg_db, flyway_dir, placeholders=PLACEHOLDERS)
    assert result.baseline["versions"] == ["1", "1.1", "2"]
    assert result.baseline["reapplied"] == ["R__user_emails"] and result.applied == ["R__user_emails"]
    assert query(pg_db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'user_emails'") == [(2,)]
    # Changed again later, without Flyway: the engine's own ledger sees it and applies it again; never drift.
    (flyway_dir / "R__user_emails.sql").write_text(
        "CREATE OR REPLACE VIEW ${schema}.user_emails AS SELECT email, name, id FROM ${schema}.users;\n")
    again = run(pg_db, flyway_dir, placeholders=PLACEHOLDERS)
    assert again.applied == ["R__user_emails"] and again.current == "2"


def test_a_failed_row_refuses_and_records_nothing(pg_db, flyway_dir):
    flyway_applies(pg_db, flyway_dir, ["V1__create_users.sql", "V1_1__add_index.sql"], failed="V1_1__add_index.sql",
                   replace=PLACEHOLDERS)
    for check_mode in (True, False):
        with pytest.raises(AdoptionRefused, match=r"Flyway recorded version 1.1 \(V1_1__add_index.sql\) as failed"):
            run(pg_db, flyway_dir, placeholders=PLACEHOLDERS, check_mode=check_mode)
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]


def test_a_file_changed_since_flyway_applied_it_is_drift(pg_db, flyway_dir):
    flyway_applies(pg_db, flyway_dir, ["V1__create_users.sql"], replace=PLACEHOLDERS)
    (flyway_dir / "V1__create_users.sql").write_text(
        "CREATE TABLE ${schema}.users (id bigserial PRIMARY KEY, email text);\n")
    with pytest.raises(DriftError, match=r"1 \(.*V1__create_users.sql\): the file changed since flyway applied it"):
        run(pg_db, flyway_dir, placeholders=PLACEHOLDERS)
    assert query(pg_db, "SELECT to_regclass('dbops.schema_migrations')") == [(None,)]
    accepted = run(pg_db, flyway_dir, placeholders=PLACEHOLDERS, allow_drift=True)
    assert accepted.baseline["versions"] == ["1"] and len(accepted.baseline["drift"]) == 1
    assert any("drift accepted (allow_drift)" in w for w in accepted.warnings)


def test_an_unknown_placeholder_is_a_clear_error(pg_db, flyway_dir):
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

    with pytest.raises(MigrationFormatError, match=r"unknown placeholder \$\{schema\}"):
        run(pg_db, flyway_dir)


def test_adopt_flyway_on_another_format_is_refused(pg_db, migrations):
    (migrations / "000001_a.up.sql").write_text("CREATE TABLE a (id int);\n")
    with pytest.raises(AdoptionRefused, match="adopt is flyway, but migrations_dir is in golang-migrate format"):
        run(pg_db, migrations, adopt="flyway")
