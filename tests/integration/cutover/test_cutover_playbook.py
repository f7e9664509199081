"""playbooks/cutover.yml end to end under the application's write load: prepare + sync + switch in one run moves
PostgreSQL (through PgBouncer) and MongoDB (through HAProxy) to green with no failed transaction and every
acknowledged write on green; fallback brings them back to blue with every write, those made on green included.

The load (tests/support/cutover_load.py) is pgbench inserting into `orders` (key from a sequence) as the
application role through PgBouncer, and a MongoDB writer through HAProxy as the application user."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cutover_estate import CutoverEstate, start_estate
from tests.support.cutover_load import CutoverLoad, MongoWriter, PgbenchLoad
from tests.support.cutover_playbook import cutover_vars, run_cutover
from tests.support.writable_sides import writable_sides

pytestmark = pytest.mark.slow

# The load runs until stopped; this only bounds it should a run hang.
LOAD_LIMIT_S = 400


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CutoverEstate]:
    with start_estate(tmp_path_factory.mktemp("cutover-estate")) as started:
        yield started


def start_load(estate: CutoverEstate, workdir: Path, tag: str) -> CutoverLoad:
    return CutoverLoad(
        postgres=PgbenchLoad(dsn=estate.app_dsn, work_dir=workdir / f"pgbench-{tag}", duration=LOAD_LIMIT_S,
                             clients=4, rate=200, tag=tag),
        mongodb=MongoWriter(uri=estate.app_mongo_uri, database=estate.mongodb_database, duration=LOAD_LIMIT_S,
                            tag=tag)).start()


def served_by(dsn: str) -> str:
    """Which side a PgBouncer client reaches: the cluster's port tells."""
    with psycopg.connect(dsn) as conn:
        return str(conn.execute("SELECT inet_server_port()").fetchone()[0])


def assert_move(run, summary: dict, to: str, phase: str) -> dict:
    """The run succeeded, moved the traffic to `to`, no client write failed, and the report has the figures."""
    assert run.returncode == 0, run.explain()
    report = run.report
    assert report is not None and report["status"] == "succeeded", run.explain()
    assert report["active"] == to
    assert summary["postgres"]["failed"] == 0, summary
    assert summary["mongodb"]["failed"] == 0, summary
    move = next(m for m in report["moves"] if m["phase"] == phase)
    assert move["undone"] is False and move["to"] == to
    assert 0 < move["pause_ms"] <= report["max_pause_ms"], move
    for position in ("fence_lsn", "fence_cluster_time", "reverse_lsn", "reverse_start"):
        assert move["positions"].get(position), (position, move["positions"])
    assert move["steps"], move
    # The clients were held, not failed: their largest gap between two commits spans the pause at most a little.
    assert summary["postgres"]["largest_gap_ms"] < report["max_pause_ms"] + 1000, summary
    return move


def test_switch_under_load_then_fallback(estate: CutoverEstate, tmp_path: Path):
    variables = cutover_vars(estate, tmp_path, dbops_cutover_approved=True,
                             dbops_metrics_dir=str(tmp_path / "metrics"))
    blue_port, green_port = str(estate.cluster("blue").port), str(estate.cluster("green").port)
    assert served_by(estate.app_dsn) == blue_port

    # prepare, sync and switch in one run, under load from start to end.
    load = start_load(estate, tmp_path, "first")
    time.sleep(1)
    switched = run_cutover("", variables, tmp_path)
    time.sleep(1)  # writes on green, which the reverse flows carry to blue
    summary = load.stop()
    print("switch:", json.dumps(summary))
    move = assert_move(switched, summary, "green", "switch")
    report = switched.report
    assert [p["name"] for p in report["phases"]] == ["prepare", "sync", "switch"]
    assert {sample["database"] for sample in report["lag"]} == {"postgres", "mongodb"}
    assert Path(tmp_path / "reports" / switched.report_name).with_suffix(".html").exists()
    print("switch pause:", move["pause_ms"], "ms; client gap:", summary["postgres"]["largest_gap_ms"], "ms")
    # sync exported the replication lag of both databases for Prometheus.
    exported = {(family.name, sample.labels.get("database")) for family in text_string_to_metric_families(
        (tmp_path / "metrics" / "sevenp_dbops.prom").read_text()) for sample in family.samples}
    assert {("sevenp_dbops_replication_lag_bytes", "postgres"),
            ("sevenp_dbops_replication_lag_seconds", "mongodb")} <= exported, exported

    assert summary["postgres"]["acknowledged"] > 100 and summary["mongodb"]["acknowledged"] > 20, summary
    assert load.check(postgres_dsn=estate.green_dsn, mongodb_uri=estate.green_mongo_uri) == {
        "postgres": [], "mongodb": []}
    assert served_by(estate.app_dsn) == green_port
    assert writable_sides(estate) == {"postgres": ["green"], "mongodb": ["green"]}

    status = run_cutover("status", variables, tmp_path)
    assert status.returncode == 0, status.explain()
    assert "the application writes to green" in status.stdout

    # fallback, under load again: everything written on either side is back on blue.
    second = start_load(estate, tmp_path, "second")
    time.sleep(1)
    fallen_back = run_cutover("fallback", variables, tmp_path)
    time.sleep(1)
    summary2 = second.stop()
    print("fallback:", json.dumps(summary2))
    assert_move(fallen_back, summary2, "blue", "fallback")
    assert served_by(estate.app_dsn) == blue_port
    for done in (load, second):
        assert done.check(postgres_dsn=estate.blue_dsn, mongodb_uri=estate.blue_mongo_uri) == {
            "postgres": [], "mongodb": []}
    assert writable_sides(estate) == {"postgres": ["blue"], "mongodb": ["blue"]}

    # A rerun of the fallback that is done changes nothing.
    again = run_cutover("fallback", variables, tmp_path)
    assert again.returncode == 0, again.explain()
    assert again.report["active"] == "blue"
    assert all(m["changed"] is False for m in again.report["moves"]), again.report["moves"]
