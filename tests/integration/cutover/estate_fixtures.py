"""The prepared estate of the cutover_switch / cutover_state tests: the estate of tests/support/cutover_estate.py
with the forward flows running (logical replication blue -> green by the logical_replication engine, the MongoDB
copy by the mongodb_copy engine), green fenced for the application and the cutover recorded as prepared; plus the
requests the tests send, a runner for the crash tests (a separate process, so that the crash hook's os._exit ends
only it), and what the role does after a switch for MongoDB (the forward copy removed, the reverse copy started at
the switch's reverse_start).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import SwitchOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import TrafficSettings
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_state import (
    CutoverStateRequest,
    run_cutover_state,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import (
    CutoverSwitchRequest,
    CutoverSwitchResult,
    run_cutover_switch,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.logical_replication import (
    LogicalReplicationRequest,
    manage,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.mongodb_copy import MongoCopyRequest, run_copy
from tests.support.cutover_estate import CutoverEstate, start_estate
from tests.support.pg_cluster import PG_BIN_DIR

ROOT = Path(__file__).resolve().parents[3]
NAME = "default"


def endpoints(estate: CutoverEstate) -> SideEndpoints:
    postgres, mongodb = estate.blue is not None, estate.blue_mongo is not None
    return SideEndpoints(
        blue_postgres_dsn=estate.blue_dsn if postgres else None,
        green_postgres_dsn=estate.green_dsn if postgres else None,
        blue_mongodb_uri=estate.blue_mongo_uri if mongodb else None,
        green_mongodb_uri=estate.green_mongo_uri if mongodb else None,
        mongodb_database=estate.mongodb_database if mongodb else None)


def options(estate: CutoverEstate, **overrides: Any) -> SwitchOptions:
    postgres, mongodb = estate.blue is not None, estate.blue_mongo is not None
    traffic = TrafficSettings(
        pgbouncer_admin_dsn=estate.pgbouncer_admin_dsn if postgres else None,
        pgbouncer_config=estate.pgbouncer_config if postgres else None,
        pgbouncer_database=estate.pgbouncer_database if postgres else None,
        haproxy_socket=estate.haproxy_socket if mongodb else None,
        haproxy_backend=estate.haproxy_backend if mongodb else None)
    base = SwitchOptions(name=NAME, traffic=traffic, app_roles=(estate.app_user,) if postgres else (),
                         app_users=tuple(estate.app_users) if mongodb else (), sync_timeout=60)
    return replace(base, **overrides)


def switch_request(estate: CutoverEstate, direction: str = "to_green", *, approved: bool = True,
                   check_mode: bool = False, action: str = "switch", **overrides: Any) -> CutoverSwitchRequest:
    return CutoverSwitchRequest(sides=endpoints(estate), options=options(estate, direction=direction, **overrides),
                                action=action, approved=approved, check_mode=check_mode)


def state_of(estate: CutoverEstate) -> dict[str, Any]:
    result = run_cutover_state(CutoverStateRequest(sides=endpoints(estate), name=NAME))
    assert result.state is not None
    return result.state


def copy_dir(estate: CutoverEstate) -> str:
    return str(Path(estate.work_dir) / "copies")


def mongo_copy(estate: CutoverEstate, source: str, target: str, state: str = "started", **extra: Any):
    return run_copy(MongoCopyRequest(source_uri=estate.mongo_uri(source), target_uri=estate.mongo_uri(target),
                                     database=estate.mongodb_database, direction=f"{source}_to_{target}",
                                     state=state, cutover_dir=copy_dir(estate), python=sys.executable, timeout=60,
                                     **extra))


def prepare(estate: CutoverEstate) -> None:
    """What the playbook's prepare does, through the same engines."""
    if estate.blue is not None:
        manage(LogicalReplicationRequest(source_dsn=estate.blue_dsn, target_dsn=estate.green_dsn,
                                         direction="blue_to_green", pg_bin_dir=str(PG_BIN_DIR), timeout=60))
    if estate.blue_mongo is not None:
        mongo_copy(estate, "blue", "green")
    run_cutover_switch(switch_request(estate, action="fence_passive"))
    run_cutover_state(CutoverStateRequest(sides=endpoints(estate), name=NAME, action="record", phase="prepared"))


def after_switch(estate: CutoverEstate, result: CutoverSwitchResult, old: str, new: str) -> None:
    """The role's MongoDB tasks after a switch that was not undone: the copy into the side now active removed, the
    reverse copy started at the switch's position without initial copy."""
    if estate.blue_mongo is None or result.undone:
        return
    mongo_copy(estate, old, new, state="absent")
    mongo_copy(estate, new, old, initial_copy=False, start_at=result.positions["reverse_start"],
               wait_for_initial_copy=False)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CutoverEstate]:
    """A prepared estate for the whole module (the tests of a file run in order and leave it consistent)."""
    work = tmp_path_factory.mktemp("cutover-estate")
    with start_estate(work) as started:
        try:
            prepare(started)
            yield started
        finally:
            for source, target in (("blue", "green"), ("green", "blue")):
                with contextlib.suppress(Exception):  # teardown: the servers go away next anyway
                    mongo_copy(started, source, target, state="absent")


# The crash tests run the engine in a process of its own: the hook's os._exit(137) must end only that process.
RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[2])
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import SideEndpoints
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.switch_run import SwitchOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import TrafficSettings
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_switch import (
    CutoverSwitchRequest, run_cutover_switch)
data = json.loads(sys.argv[1])
opts = dict(data["options"])
opts["traffic"] = TrafficSettings(**opts["traffic"])
opts["app_roles"], opts["app_users"] = tuple(opts["app_roles"]), tuple(opts["app_users"])
request = CutoverSwitchRequest(sides=SideEndpoints(**data["sides"]), options=SwitchOptions(**opts),
                               action=data["action"], approved=data["approved"])
result = run_cutover_switch(request)
print(json.dumps({"undone": result.undone, "recovered": result.recovered, "positions": result.positions}))
"""


def run_in_process(request: CutoverSwitchRequest, crash_at: str | None = None) -> subprocess.CompletedProcess:
    from dataclasses import asdict

    payload = {"sides": asdict(request.sides), "options": asdict(request.options), "action": request.action,
               "approved": request.approved}
    env = dict(os.environ)
    if crash_at:
        env["DBOPS_CUTOVER_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", RUNNER, json.dumps(payload), str(ROOT / "build")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@dataclass
class PgWriter:
    """The application through PgBouncer: orders inserted one transaction at a time; an id counts when committed."""

    dsn: str
    acknowledged: list[int] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PgWriter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    # No server-side prepared statements: PgBouncer pools transactions across server connections.
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5, prepare_threshold=None)
                row = conn.execute("INSERT INTO orders (item) VALUES ('writer') RETURNING id").fetchone()
                self.acknowledged.append(int(row[0]))
            except psycopg.Error as exc:
                self.failed += 1
                self.errors.append(" ".join(str(exc).split())[:200])
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            time.sleep(0.01)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


@dataclass
class MongoWriter:
    """The application through HAProxy: documents inserted one by one; a write counts when acknowledged. One
    client for the whole run, as an application keeps it (the driver reconnects by itself): a client whose
    connections were made while a side was fenced must be able to write once that side is unfenced."""

    uri: str
    database: str
    acknowledged: list[str] = field(default_factory=list)
    failed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MongoWriter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        counter = 0
        client = None
        while not self._stop.is_set():
            try:
                if client is None:
                    client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=2000, socketTimeoutMS=3000)
                counter += 1
                key = f"w{os.getpid()}-{counter}-{time.monotonic_ns()}"
                client[self.database].writes.insert_one({"_id": key})
                self.acknowledged.append(key)
            except pymongo.errors.PyMongoError:
                self.failed += 1
                time.sleep(0.01)
            time.sleep(0.01)
        if client is not None:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def _pg_ids(estate: CutoverEstate, side: str) -> set[int]:
    with psycopg.connect(estate.pg_dsn(side)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM orders")}


def _mongo_keys(estate: CutoverEstate, side: str) -> set[str]:
    with pymongo.MongoClient(estate.mongo_uri(side)) as client:
        return {doc["_id"] for doc in client[estate.mongodb_database].writes.find({}, {"_id": 1})}


def crash_then_rerun(estate: CutoverEstate, step: str) -> None:
    """kill -9 (the crash hook) right after `step`'s intent is recorded, under a write load: at that instant at most
    one side is writable (exactly the one expected), the state names the step, and a rerun of the same switch
    completes it (after undoing the half-done one before the commit step): every acknowledged write is on the new
    side."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
    from tests.support.writable_sides import writable_sides

    old = state_of(estate)["active"]
    new = "green" if old == "blue" else "blue"
    request = switch_request(estate, f"to_{new}")
    pg_writer = PgWriter(estate.app_dsn).start()
    mongo_writer = MongoWriter(estate.app_mongo_uri, estate.mongodb_database).start()
    try:
        wait_until(lambda: len(pg_writer.acknowledged) > 5 and len(mongo_writer.acknowledged) > 5)
        crashed = run_in_process(request, crash_at=step)
        assert crashed.returncode == 137, crashed.stdout + crashed.stderr
        recorded = state_of(estate)
        assert (recorded["step"], recorded["step_status"]) == (step, "intent"), recorded
        order = steps.ORDER

        def expected(fence: str, unfence: str) -> list[str]:
            # The intent is recorded before the step runs: at the fence step the old side is still writable, at
            # the unfence step the new one is not yet.
            if order.index(step) <= order.index(fence):
                return [old]
            return [] if order.index(step) <= order.index(unfence) else [new]

        assert writable_sides(estate) == {
            "postgres": expected(steps.FENCE_OLD, steps.UNFENCE_NEW),
            "mongodb": expected(steps.MONGODB_FENCE_OLD, steps.MONGODB_UNFENCE_NEW)}, step
        rerun = run_cutover_switch(request)
        time.sleep(0.3)
    finally:
        pg_writer.stop()
        mongo_writer.stop()
    if step == steps.CLEANUP:
        assert rerun.recovered is None  # the switch was done: only its cleanup was left
    elif order.index(step) >= order.index(steps.COMMIT):
        assert rerun.recovered == "completed"
    else:
        assert rerun.recovered == "undone"
    assert not rerun.undone
    final = state_of(estate)
    assert final["active"] == new and not final["cleanup_flow"] and final["phase"] in ("switched", "fallen_back")
    assert writable_sides(estate) == {"postgres": [new], "mongodb": [new]}
    assert set(pg_writer.acknowledged) <= _pg_ids(estate, new)
    assert set(mongo_writer.acknowledged) <= _mongo_keys(estate, new)
    after_switch(estate, rerun, old, new)
