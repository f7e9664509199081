"""The logical replication engine's pure parts: names, statements and their masking, the roles script, the
guardrail refusal text, and check mode planning through carry_out."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.logical_replication import (
    LogicalReplicationRequest,
    validate,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical import guardrails, statements
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.objects import replication_objects
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.plan import Action, carry_out
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.role_statements import role_script


def test_a_direction_names_its_publication_slot_and_subscription() -> None:
    objects = replication_objects("green_to_blue")
    assert (objects.source_side, objects.target_side) == ("green", "blue")
    assert objects.publication == objects.slot == objects.subscription == "dbops_cutover_green_to_blue"
    with pytest.raises(DbopsError, match="direction must be one of"):
        replication_objects("blue_to_blue")


@pytest.mark.parametrize("conninfo", [
    "host=db port=5432 dbname=app user=postgres password=s3cret-Pa'ss",
    "postgresql://postgres:s3cret-Pa%27ss@db:5432/app",
])
def test_the_subscription_conninfo_password_is_masked(conninfo: str) -> None:
    statement = statements.create_subscription("dbops_cutover_blue_to_green", conninfo,
                                               "dbops_cutover_blue_to_green", copy_data=False, create_slot=False,
                                               slot_name="dbops_cutover_blue_to_green", enabled=True)
    assert "s3cret" not in statement.masked
    assert "********" in statement.masked
    assert "copy_data = false" in statement.masked and "create_slot = false" in statement.masked
    assert "s3cret" in statement.query.as_string(None)  # the statement itself keeps it


def test_the_publication_lists_its_tables_quoted() -> None:
    query = statements.create_publication("p", [("public", "Orders"), ("dbops", "cutover_fence")])
    assert query.as_string(None) == 'CREATE PUBLICATION "p" FOR TABLE "public"."Orders", "dbops"."cutover_fence"'
    with pytest.raises(DbopsError):
        statements.create_publication("p", [])


def test_the_drop_detaches_the_slot_before_dropping() -> None:
    texts = [query.as_string(None) for query in statements.drop_subscription("s")]
    assert texts == ['ALTER SUBSCRIPTION "s" DISABLE', 'ALTER SUBSCRIPTION "s" SET (slot_name = NONE)',
                     'DROP SUBSCRIPTION "s"']


def test_the_fence_table_has_the_switch_layout() -> None:
    text = statements.ensure_fence_table_statement().as_string(None)
    for column in ("id bigserial PRIMARY KEY", "cutover text NOT NULL", "side text NOT NULL", "token text NOT NULL",
                   "fenced_at timestamptz NOT NULL DEFAULT now()"):
        assert column in text


DUMP = """--
-- Roles
--

CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$x';
CREATE ROLE app_user;
ALTER ROLE app_user WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$y';
CREATE ROLE "Reporting";
ALTER ROLE "Reporting" WITH NOLOGIN;
GRANT "Reporting" TO app_user GRANTED BY postgres;
GRANT pg_read_all_data TO postgres GRANTED BY postgres;
"""


def test_roles_the_target_has_are_left_alone() -> None:
    script = role_script(DUMP, {"postgres", "pg_read_all_data"})
    assert script.created == ["app_user", "Reporting"]
    assert script.skipped == ["postgres"]
    assert not any("ROLE postgres" in line for line in script.statements)
    assert 'GRANT "Reporting" TO app_user GRANTED BY postgres;' in script.statements
    assert "GRANT pg_read_all_data TO postgres GRANTED BY postgres;" not in script.statements


def test_a_refusal_lists_every_failed_check_and_keeps_them() -> None:
    checks = [guardrails.GuardrailCheck("wal_level", False, "wal_level is 'replica' on the source"),
              guardrails.GuardrailCheck("replica_identity", True, "ok"),
              guardrails.GuardrailCheck("long_transactions", False, "pid 42")]
    with pytest.raises(guardrails.GuardrailRefused) as refused:
        guardrails.refuse_failed(checks)
    message = str(refused.value)
    assert message.startswith("logical replication refused, nothing was changed")
    assert "- wal_level: wal_level is 'replica'" in message and "- long_transactions: pid 42" in message
    assert "replica_identity" not in message
    assert refused.value.checks == checks
    guardrails.refuse_failed(checks[1:2])  # all passed: no error


def test_check_mode_lists_the_actions_and_runs_none() -> None:
    ran: list[str] = []
    actions = [Action("one", ["source: A"], lambda queries: ran.append("one") or queries.append("source: A")),
               Action("two", ["target: B", "target: C"], lambda queries: ran.append("two"))]
    planned: list[str] = []
    carry_out(actions, planned, check_mode=True)
    assert planned == ["source: A", "target: B", "target: C"] and ran == []
    done: list[str] = []
    carry_out(actions, done, check_mode=False)
    assert ran == ["one", "two"] and done == ["source: A"]


@pytest.mark.parametrize(("options", "message"), [
    ({"state": "running"}, "state must be one of"),
    ({"direction": "green_to_green"}, "direction must be one of"),
    ({"timeout": 0}, "timeout must be > 0"),
    ({"max_transaction_age": -1}, "max_transaction_age must be >= 0"),
    ({"source_dsn": ""}, "source_dsn and target_dsn are both required"),
])
def test_bad_arguments_are_named_before_anything_connects(options: dict, message: str) -> None:
    values = {"source_dsn": "host=nowhere.invalid", "target_dsn": "host=nowhere.invalid", **options}
    with pytest.raises(DbopsError, match=message):
        validate(LogicalReplicationRequest(**values))
