"""sevenp.dbops.mongodb_copy as Ansible runs it: the copy engine is installed from the module's payload, the
process started and found again, check mode, no password in the output, absent."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.wait import wait_applied
from tests.support.ansible_cli import run_module
from tests.support.mongo_server import AuthenticatedMongo, MongoDaemon, authenticated_server, destroy_daemon, new_daemon

DATABASE = "app"


@pytest.fixture
def source() -> Iterator[MongoDaemon]:
    daemon = new_daemon()
    try:
        yield daemon
    finally:
        destroy_daemon(daemon)


@pytest.fixture
def target() -> Iterator[AuthenticatedMongo]:
    with authenticated_server(lambda _client: None) as server:
        yield server


def test_module_starts_reports_and_removes_the_copy(source: MongoDaemon, target: AuthenticatedMongo,
                                                    tmp_path: Path) -> None:
    pymongo.MongoClient(source.uri)[DATABASE].things.insert_many([{"_id": i} for i in range(50)])
    args = {"source_uri": source.uri, "target_uri": target.admin_uri, "database": DATABASE,
            "direction": "blue_to_green", "cutover_dir": str(tmp_path / "cutover"), "python": sys.executable,
            "timeout": 60}
    try:
        planned = run_module("sevenp.dbops.mongodb_copy", args, "--check")
        assert planned.returncode == 0 and planned.result["changed"] is True, planned.output
        assert not (tmp_path / "cutover").exists()

        started = run_module("sevenp.dbops.mongodb_copy", args)
        assert started.returncode == 0, started.output
        assert started.result["changed"] is True and started.result["running"] is True
        assert target.admin_password not in started.output
        config = Path(started.result["install_dir"]) / "conf" / "copy.json"
        assert config.stat().st_mode & 0o777 == 0o600
        assert json.loads(config.read_text())["target_uri"] == target.admin_uri

        target_client = pymongo.MongoClient(target.admin_uri)
        source_client = pymongo.MongoClient(source.uri)
        reply = source_client[DATABASE].command({"insert": "things", "documents": [{"_id": 50}]})
        try:
            wait_applied(target_client, DATABASE, reply["operationTime"], 30, source_client=source_client)
        except Exception as exc:  # pragma: no cover - diagnostics
            raise AssertionError(Path(started.result["log_path"]).read_text()[-3000:]) from exc
        assert target_client[DATABASE].things.count_documents({}) == 51

        again = run_module("sevenp.dbops.mongodb_copy", args)
        assert again.returncode == 0 and again.result["changed"] is False, again.output
        status = run_module("sevenp.dbops.mongodb_copy", {**args, "state": "status"})
        assert status.result["running"] is True and status.result["pid"] == started.result["pid"]
        assert status.result["applied"] and not status.result.get("gap")
    finally:
        removed = run_module("sevenp.dbops.mongodb_copy", {**args, "state": "absent"})
    assert removed.returncode == 0 and removed.result["changed"] is True, removed.output
    assert not Path(removed.result["install_dir"]).exists()
