"""The change_capture module through Ansible against a real SecantusDB: check mode changes nothing, started installs
and runs the supervised service (idempotent), it captures, survives kill -9 of the capture, stops, starts, and
absent removes the installation but never the archive. A recovery point without a capture says what to run."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import capture_status
from tests.support.ansible_cli import run_module
from tests.support.capture_service import capture_dirs, stop_capture_services, supervised_child

MODULE = "sevenp.dbops.change_capture"


@pytest.fixture
def install_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="dbops-capture-svc-"))
    try:
        yield root
    finally:
        stop_capture_services(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def repo_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dbops-capture-repo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def capture_args(uri: str, database: str, repo: Path, root: Path, **extra: object) -> dict:
    return {"mongodb_uri": uri, "mongodb_database": database, "repository": str(repo), "install_root": str(root),
            "flush_interval": 0.2, **extra}


def wait_for_entries(repo: Path, database: str, at_least: int, timeout: float = 30.0) -> int:
    """Entries in the change archive, once at least at_least (read in-process: polling through Ansible is slow)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = capture_status(str(repo), database)["entries"]
        if entries >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def new_child(directory: Path, not_pid: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = supervised_child(directory)
        if pid and pid != not_pid:
            return pid
        time.sleep(0.1)
    raise AssertionError("the supervisor did not restart the capture")


@pytest.mark.timeout(240)
def test_service_lifecycle(mongo_server, mongo_db_name, install_root, repo_dir):
    things = pymongo.MongoClient(mongo_server)[mongo_db_name].things
    args = capture_args(mongo_server, mongo_db_name, repo_dir, install_root)

    planned = run_module(MODULE, args, "--check")
    assert planned.returncode == 0, planned.output
    assert planned.result["changed"] and planned.result["manager"] == "supervisor"
    assert not list(install_root.iterdir()), "check mode must not install anything"

    started = run_module(MODULE, args)
    assert started.returncode == 0, started.output
    result = started.result
    assert result["changed"] and result["running"] and result["manager"] == "supervisor"
    directory = Path(result["install_dir"])
    assert directory.parent == install_root and directory.name == result["name"]
    assert result["name"].startswith(f"dbops-change-capture-{mongo_db_name}-")
    config = directory / "conf" / "capture.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert mongo_server not in " ".join(result["command"]), "the URI stays out of the command line"
    child = supervised_child(directory)
    assert child is not None
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{child}/environ").read_text().split("\0") if item)
    assert environ["HOME"] == str(directory), "nothing depends on the caller's home directory"

    # started returns once the capture has fixed its resume point: these writes are archived.
    things.insert_many([{"_id": i} for i in range(10)])
    assert wait_for_entries(repo_dir, mongo_db_name, 10) >= 10

    again = run_module(MODULE, args)
    assert again.returncode == 0 and not again.result["changed"] and not again.result["restarted"], again.output

    os.kill(child, signal.SIGKILL)
    restarted_child = new_child(directory, child)
    assert restarted_child != child
    things.insert_many([{"_id": i} for i in range(10, 20)])
    assert wait_for_entries(repo_dir, mongo_db_name, 20) >= 20
    health = run_module(MODULE, {**args, "state": "status"}).result["health"]
    assert health["entries"] >= 20 and health["running"] and health["gaps"] == []
    assert health["healthy"], health["problems"]
    assert health["lag_seconds"] is not None and health["lag_seconds"] < 30

    info = run_module("sevenp.dbops.backup_info", {
        "mongodb_uri": mongo_server, "mongodb_database": mongo_db_name, "repository": str(repo_dir),
        "capture_install_root": str(install_root)})
    assert info.returncode == 0, info.output
    reported = info.result["mongodb_capture"]
    assert reported["running"] is True and reported["service"]["install_dir"] == str(directory)
    assert reported["entries"] >= 20 and reported["lag_seconds"] is not None and reported["gaps"] == []

    # A changed configuration restarts the running service.
    changed = run_module(MODULE, {**args, "flush_interval": 0.3})
    assert changed.result["changed"] and changed.result["restarted"], changed.output

    stopped = run_module(MODULE, {**args, "state": "stopped"})
    assert stopped.result["changed"] and not stopped.result["running"], stopped.output
    assert not run_module(MODULE, {**args, "state": "stopped"}).result["changed"]
    status = run_module(MODULE, {**args, "state": "status"}).result
    assert status["running"] is False and not status["health"]["healthy"]
    assert "playbooks/wal_archiving.yml" in status["health"]["hint"]

    removal_planned = run_module(MODULE, {**args, "state": "absent"}, "--check")
    assert removal_planned.result["changed"] and directory.exists()
    removed = run_module(MODULE, {**args, "state": "absent"})
    assert removed.result["changed"] and not directory.exists() and capture_dirs(install_root) == []
    assert not run_module(MODULE, {**args, "state": "absent"}).result["changed"]
    assert list(repo_dir.rglob("*.bson.gz")), "the change archive stays"


@pytest.mark.timeout(90)
def test_recovery_point_without_a_capture_says_what_to_run(mongo_server, mongo_db_name, repo_dir):
    started = time.monotonic()
    point = run_module("sevenp.dbops.recovery_point", {
        "name": "no_capture", "mongodb_uri": mongo_server, "mongodb_database": mongo_db_name,
        "repository": str(repo_dir), "wait_timeout": 300})
    assert point.returncode != 0
    assert "is the change capture running?" in point.result["msg"]
    assert "ansible-playbook playbooks/wal_archiving.yml" in point.result["msg"]
    assert time.monotonic() - started < 60, "no capture ever ran: it fails without waiting the whole timeout"
