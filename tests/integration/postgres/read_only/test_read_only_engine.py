"""PostgreSQL read-only mode against a real cluster: a write load that keeps trying, exact undo, idempotence."""

from __future__ import annotations

import json
import stat
import time

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only import ReadOnlyRequest, run_read_only
from tests.integration.postgres.read_only.fence_setup import FencedApp, WriteLoad, snapshot

pytestmark = pytest.mark.slow


def request(app: FencedApp, state_file, **overrides) -> ReadOnlyRequest:
    fields = {"databases": DatabaseConnections(postgres_dsn=app.admin_dsn()), "state_file": str(state_file),
              "exempt_roles": (app.ops,)}
    fields.update(overrides)
    return ReadOnlyRequest(**fields)


def write_refused(dsn: str, statement: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc.sqlstate or "?"
    return "accepted"


def test_no_application_write_is_accepted_after_enabled_and_disabled_restores_exactly(fenced_app, state_file):
    before = snapshot(fenced_app)
    load = WriteLoad(fenced_app.dsn_as(fenced_app.app)).start()
    in_flight = psycopg.connect(fenced_app.dsn_as(fenced_app.app))  # a write under way when the mode engages
    in_flight.execute("INSERT INTO items (note) VALUES ('in flight')")
    try:
        time.sleep(0.3)
        assert load.accepted, "the load must be writing before the mode"
        result = run_read_only(request(fenced_app, state_file))
        load.engaged_at = time.monotonic()
        time.sleep(1.5)  # the load keeps trying every way
        with pytest.raises(psycopg.OperationalError):
            in_flight.commit()
    finally:
        load.stop()
        in_flight.close()
    assert result.changed
    assert load.accepted_after_engaged() == []
    assert load.attempts > 20 and not load.errors, load.errors
    with psycopg.connect(fenced_app.admin_dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE note = 'in flight'").fetchone()[0] == 0
    assert any(item["role"] == fenced_app.app for item in result.terminated)

    # Reads keep working, for an open session and a brand-new one; the exempt role keeps writing.
    with psycopg.connect(fenced_app.dsn_as(fenced_app.app), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] > 0
    assert write_refused(fenced_app.dsn_as(fenced_app.ops), "INSERT INTO items (note) VALUES ('ops')") == "accepted"
    assert write_refused(fenced_app.dsn_as(fenced_app.app), "CREATE TABLE sneaky (x int)") in ("42501", "25006")

    # The probes ran as the application role and as a new connection, and proved it.
    probes = [(probe["role"], probe["kind"], probe["ok"]) for probe in result.probes]
    assert (fenced_app.app, "write", True) in probes and (fenced_app.app, "read", True) in probes
    assert any(kind == "write (new connection)" and ok for _role, kind, ok in probes)
    assert (fenced_app.app, "sequence", True) in probes
    assert all(probe["ok"] for probe in result.probes)

    # What was changed is in the result and in the state file (0600), engaged.
    revoked = {(g["name"], g["privilege"], g["grantee"], g["grantor"]) for g in result.previous["postgres"]["revoked"]}
    assert ("audit", "TRUNCATE", fenced_app.app, fenced_app.granter) in revoked
    assert ("public_log", "INSERT", "PUBLIC", "postgres") in revoked
    assert ("audit", "INSERT", fenced_app.writers, "postgres") in revoked
    assert ("audit_id_seq", "USAGE", fenced_app.app, "postgres") in revoked
    assert not any(g[2] == fenced_app.ops for g in revoked)
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text())["databases"]["postgres"]["phase"] == "engaged"

    undone = run_read_only(request(fenced_app, state_file, state="disabled"))
    assert undone.changed
    assert snapshot(fenced_app) == before
    # The undo proved itself: the application role's writes and a new session's are accepted again.
    lifted = [(probe["role"], probe["kind"], probe["ok"], probe["outcome"]) for probe in undone.probes]
    assert (fenced_app.app, "write", True, "accepted") in lifted
    assert any(kind == "write (new connection)" and ok for _role, kind, ok, _outcome in lifted)
    assert not state_file.exists()
    assert write_refused(fenced_app.dsn_as(fenced_app.app), "INSERT INTO items (note) VALUES ('back')") == "accepted"
    # The role whose setting was already on keeps it.
    with psycopg.connect(fenced_app.dsn_as(fenced_app.already), autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"


def test_enable_and_disable_are_idempotent_and_check_mode_changes_nothing(fenced_app, state_file):
    before = snapshot(fenced_app)
    planned = run_read_only(request(fenced_app, state_file, check_mode=True))
    assert planned.changed and planned.queries
    assert any("REVOKE" in query for query in planned.queries)
    assert snapshot(fenced_app) == before and not state_file.exists()

    first = run_read_only(request(fenced_app, state_file))
    engaged = snapshot(fenced_app)
    second = run_read_only(request(fenced_app, state_file))
    assert first.changed and not second.changed
    assert second.queries == []
    assert snapshot(fenced_app) == engaged
    assert second.previous == first.previous
    assert run_read_only(request(fenced_app, state_file, check_mode=True)).changed is False

    status = run_read_only(request(fenced_app, state_file, state="status"))
    assert status.phases == {"postgres": "engaged"} and not status.changed

    check_undo = run_read_only(request(fenced_app, state_file, state="disabled", check_mode=True))
    assert check_undo.changed and snapshot(fenced_app) == engaged
    assert any(query.startswith("GRANT TRUNCATE ON TABLE") for query in check_undo.queries)
    assert run_read_only(request(fenced_app, state_file, state="disabled")).changed
    assert run_read_only(request(fenced_app, state_file, state="disabled")).changed is False
    assert snapshot(fenced_app) == before


def test_soft_mode_sets_only_the_server_default_and_undoes_it(fenced_app, state_file):
    before = snapshot(fenced_app)
    result = run_read_only(request(fenced_app, state_file, mode="soft"))
    assert result.previous["postgres"]["revoked"] == []
    assert write_refused(fenced_app.dsn_as(fenced_app.app), "INSERT INTO items (note) VALUES ('x')") == "25006"
    assert write_refused(fenced_app.dsn_as(fenced_app.ops), "INSERT INTO items (note) VALUES ('x')") == "accepted"
    assert any(probe["kind"] == "write (new connection)" and probe["ok"] for probe in result.probes)
    run_read_only(request(fenced_app, state_file, mode="soft", state="disabled"))
    assert snapshot(fenced_app) == before


def test_a_setting_already_on_through_alter_system_stays_on(fenced_app, state_file):
    with psycopg.connect(fenced_app.admin_dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        conn.execute("SELECT pg_reload_conf()")
    before = snapshot(fenced_app)
    result = run_read_only(request(fenced_app, state_file))
    assert result.previous["postgres"]["system"] is None
    run_read_only(request(fenced_app, state_file, state="disabled"))
    assert snapshot(fenced_app) == before


def test_hard_mode_refuses_a_role_that_owns_tables_before_changing_anything(fenced_app, state_file):
    with psycopg.connect(fenced_app.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'ALTER TABLE notes OWNER TO "{fenced_app.app}"')
    before = snapshot(fenced_app)
    with pytest.raises(DbopsError, match="can act as the owner of"):
        run_read_only(request(fenced_app, state_file))
    assert snapshot(fenced_app) == before and not state_file.exists()


def test_an_unknown_exempt_role_is_refused(fenced_app, state_file):
    with pytest.raises(DbopsError, match="do not exist: nobody_here"):
        run_read_only(request(fenced_app, state_file, exempt_roles=("nobody_here",)))
