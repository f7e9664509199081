"""Each guardrail of sevenp.dbops.logical_replication state=present on real clusters: the refusal names the setting,
table or transaction at fault, and both clusters are left exactly as they were."""

from __future__ import annotations

import time

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.logical_replication import (
    LogicalReplicationRequest,
    manage,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.guardrails import GuardrailRefused
from tests.integration.postgres import logical_pair
from tests.integration.postgres.logical_pair import APP_DB, LOGICAL_CONF, LogicalPair
from tests.support.ansible_cli import run_module
from tests.support.pg_cluster import new_cluster

clusters = logical_pair.clusters  # the module's two clusters (fixtures)
pair = logical_pair.pair


def _refused(pair: LogicalPair, source_dsn: str | None = None, **options: object) -> GuardrailRefused:
    request = LogicalReplicationRequest(source_dsn=source_dsn or pair.dsn(pair.blue), target_dsn=pair.dsn(pair.green),
                                        timeout=30, **options)  # type: ignore[arg-type]
    with pytest.raises(GuardrailRefused) as refused:
        manage(request)
    return refused.value


def test_wal_level_replica_is_refused() -> None:
    replica = new_cluster(prefix="dbops-replica-", extra_conf={"wal_level": "replica"})
    green = new_cluster(prefix="dbops-green-", extra_conf=LOGICAL_CONF)
    try:
        pair = LogicalPair(replica, green)
        pair.reset()
        before = (pair.snapshot(replica), pair.snapshot(green))
        error = _refused(pair)
        assert "wal_level is 'replica' on the source" in str(error)
        assert [check.name for check in error.checks if not check.passed] == ["wal_level"]
        assert (pair.snapshot(replica), pair.snapshot(green)) == before
    finally:
        green.destroy()
        replica.destroy()


def test_a_table_without_primary_key_is_refused_by_name(pair: LogicalPair) -> None:
    pair.blue.psql("CREATE TABLE audit_log (at timestamptz, line text); CREATE TABLE tagged (v text NOT NULL);"
                   "CREATE UNIQUE INDEX tagged_v ON tagged (v);"
                   "ALTER TABLE tagged REPLICA IDENTITY USING INDEX tagged_v", APP_DB)
    before = (pair.snapshot(pair.blue), pair.snapshot(pair.green))
    run = run_module("sevenp.dbops.logical_replication", {"source_dsn": pair.dsn(pair.blue),
                                                          "target_dsn": pair.dsn(pair.green)})
    assert run.returncode != 0
    assert "public.audit_log" in run.result["msg"] and "tagged" not in run.result["msg"], run.result["msg"]
    failed = [check for check in run.result["guardrails"] if not check["ok"]]
    assert [check["check"] for check in failed] == ["replica_identity"]
    assert (pair.snapshot(pair.blue), pair.snapshot(pair.green)) == before


def test_too_few_replication_slots_is_refused(pair: LogicalPair) -> None:
    with psycopg.connect(pair.blue.dsn(), autocommit=True) as conn:
        for number in range(8):  # 2 of 10 left; the subscription and its 2 table sync workers need 3
            conn.execute("SELECT pg_create_physical_replication_slot(%s)", (f"filler_{number}",))
    before = (pair.snapshot(pair.blue), pair.snapshot(pair.green))
    error = _refused(pair)
    assert "max_replication_slots = 10 leaves 2 free" in str(error)
    assert [check.name for check in error.checks if not check.passed] == ["source_capacity"]
    assert (pair.snapshot(pair.blue), pair.snapshot(pair.green)) == before


def test_a_long_open_transaction_is_refused_with_its_pid(pair: LogicalPair) -> None:
    with psycopg.connect(pair.dsn(pair.blue)) as holder:
        holder.execute("SELECT count(*) FROM orders")  # the transaction stays open: no autocommit
        pid = holder.info.backend_pid
        time.sleep(1.5)
        before = (pair.snapshot(pair.blue), pair.snapshot(pair.green))
        error = _refused(pair, max_transaction_age=1)
        assert f"pid {pid}" in str(error) and "max_transaction_age = 1 s" in str(error)
        assert [check.name for check in error.checks if not check.passed] == ["long_transactions"]
        assert (pair.snapshot(pair.blue), pair.snapshot(pair.green)) == before
        holder.rollback()
