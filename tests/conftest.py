"""Shared fixtures: real servers started by the tests themselves."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LINK = BUILD / "ansible_collections" / "sevenp" / "dbops"

# The engine is imported the way Ansible imports it: ansible_collections.sevenp.dbops.plugins.module_utils...
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("../../.."))
sys.path.insert(0, str(BUILD))
sys.path.insert(0, str(ROOT))

from tests.support.ansible_home import isolate_ansible_home  # noqa: E402
from tests.support.pg_cluster import PgCluster, new_cluster  # noqa: E402

# Nothing of a test run lives under $HOME: Ansible's state goes to a directory of the session's own.
isolate_ansible_home()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = new_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_db(pg_cluster: PgCluster) -> Iterator[str]:
    """DSN of a fresh, empty database on the session's cluster."""
    name = "t_" + uuid.uuid4().hex[:12]
    dsn = pg_cluster.create_database(name)
    try:
        yield dsn
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_db_name(pg_db: str) -> str:
    return pg_db.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[str]:
    """URI of a SecantusDB server (MongoDB wire protocol) started in-process."""
    from secantus import SecantusDBServer

    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=":memory:")
    server.start()
    try:
        yield server.uri() if callable(server.uri) else server.uri
    finally:
        server.stop()


@pytest.fixture
def mongo_db_name() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def s3_server():
    from tests.support.s3_server import new_s3_server

    server = new_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _collection_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    venv_python = ROOT / ".venv" / "bin" / "python"
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", str(venv_python if venv_python.exists() else sys.executable))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
