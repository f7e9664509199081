"""The PostgreSQL read-only record, its statements, and the state file, without a server."""

from __future__ import annotations

import json
import stat

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only import (
    ReadOnlyRequest,
    uri_user,
    validate,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only_state import (
    StateFile,
    default_state_file,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import statements
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.change import (
    PgReadOnlyChange,
    RevokedGrant,
    RoleSetting,
    SystemSetting,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only.planner import is_on


def grant(grantee="app", grantor="postgres", privilege="INSERT", kind="table", column=None, name="items"):
    return RevokedGrant(kind=kind, schema="public", name=name, column=column, privilege=privilege, grantee=grantee,
                        grantor=grantor, grantable=False)


def text(statement) -> str:
    return statement.as_string(None)


def test_the_record_round_trips_through_json():
    change = PgReadOnlyChange(mode="hard", system=SystemSetting(previous=None),
                              role_settings=[RoleSetting("app", None, "on")], revoked=[grant()], fenced_roles=["app"])
    assert PgReadOnlyChange.from_dict(json.loads(json.dumps(change.to_dict()))) == change
    assert not change.empty and PgReadOnlyChange(mode="soft").empty


def test_a_rerun_keeps_the_recorded_previous_values_and_adds_the_new_items():
    recorded = PgReadOnlyChange(mode="hard", system=SystemSetting(previous="off"),
                                role_settings=[RoleSetting("app", "off", "on")], revoked=[grant()])
    # After a crash the role setting is already on (not planned), a table was added since.
    replanned = PgReadOnlyChange(mode="hard", system=None, role_settings=[RoleSetting("ops", None, "off")],
                                 revoked=[grant(), grant(name="new_table")])
    merged = replanned.merged_into(recorded)
    assert merged.system == SystemSetting(previous="off")
    assert {item.role: item.previous for item in merged.role_settings} == {"app": "off", "ops": None}
    assert sorted(item.name for item in merged.revoked) == ["items", "new_table"]


def test_statements_quote_every_identifier():
    assert text(statements.revoke(grant(grantee='we"ird'))) == 'REVOKE INSERT ON TABLE "public"."items" FROM "we""ird"'
    assert text(statements.revoke(grant(grantee="PUBLIC"))) == 'REVOKE INSERT ON TABLE "public"."items" FROM PUBLIC'
    column = grant(privilege="UPDATE", kind="column", column="body")
    assert text(statements.regrant(column)) == 'GRANT UPDATE ("body") ON TABLE "public"."items" TO "app"'
    schema = RevokedGrant("schema", "public", None, None, "CREATE", "app", "pg_database_owner", True)
    assert text(statements.regrant(schema)) == 'GRANT CREATE ON SCHEMA "public" TO "app" WITH GRANT OPTION'
    assert text(statements.restore_role_setting(RoleSetting("app", None, "on"))) == \
        'ALTER ROLE "app" RESET "default_transaction_read_only"'
    assert text(statements.restore_system("off")) == "ALTER SYSTEM SET \"default_transaction_read_only\" = 'off'"


def test_a_privilege_keyword_outside_the_known_ones_is_refused():
    with pytest.raises(DbopsError, match="unexpected privilege"):
        statements.revoke(grant(privilege="SELECT; DROP TABLE x"))


def test_entries_made_by_a_grantee_are_revoked_before_the_grant_they_derive_from():
    base = grant(grantee="granter", privilege="TRUNCATE")
    derived = grant(grantee="app", grantor="granter", privilege="TRUNCATE")
    assert statements.revoke_order([base, derived]) == [derived, base]


def test_setting_spellings():
    assert is_on("on") and is_on("'true'") and is_on("1") and not is_on("off") and not is_on(None)


def test_the_state_file_is_written_atomically_0600_and_removed_when_empty(tmp_path):
    path = tmp_path / "deep" / "state.json"
    state = StateFile(path)
    state.record("postgres", "planned", {"mode": "hard"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert StateFile(path).entries == {"postgres": {"phase": "planned", "previous": {"mode": "hard"}}}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary file left
    state.forget("postgres")
    assert not path.exists()


def test_a_corrupt_state_file_is_an_error_not_a_fresh_start(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(DbopsError, match="cannot be read"):
        StateFile(path)


def test_the_default_state_file_names_the_targets_never_the_credentials():
    first = default_state_file(DatabaseConnections(postgres_dsn="postgresql://u:secret@db1:5432/app"))
    other_password = default_state_file(DatabaseConnections(postgres_dsn="postgresql://u:other@db1:5432/app"))
    other_db = default_state_file(DatabaseConnections(postgres_dsn="postgresql://u:secret@db1:5432/app2"))
    assert first == other_password != other_db
    assert str(first).startswith("/var/lib/sevenp-dbops/read_only/") and "secret" not in str(first)


def test_the_mongodb_uri_user_is_exempt():
    assert uri_user("mongodb://dbops%40ops:pw@h:27017/?authSource=admin") == "dbops@ops"
    assert uri_user("mongodb://h:27017") is None


@pytest.mark.parametrize(("fields", "message"), [
    ({"state": "on"}, "state must be one of"),
    ({"mode": "medium"}, "mode must be one of"),
    ({"databases": DatabaseConnections()}, "needs postgres_dsn and/or mongodb_uri"),
    ({"databases": DatabaseConnections(mongodb_uri="mongodb://h")}, "mongodb_database is required"),
])
def test_requests_are_checked(fields, message):
    request = ReadOnlyRequest(**{"databases": DatabaseConnections(postgres_dsn="dbname=x"), **fields})
    with pytest.raises(DbopsError, match=message):
        validate(request)
