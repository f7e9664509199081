"""SecantusDB (MongoDB wire protocol over WiredTiger) servers for the tests and the demo."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port, wait_for_port


@dataclass
class MongoDaemon:
    """A SecantusDB server in its own process, so it can be killed and restarted like mongod."""

    storage_path: Path
    port: int
    process: subprocess.Popen | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> MongoDaemon:
        exe = Path(sys.executable).with_name("secantusd-py")
        log = open(self.storage_path.parent / f"secantus-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(exe), "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", str(self.storage_path),
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.storage_path.parent, start_new_session=True,
        )
        wait_for_port(self.port, timeout=60)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def new_daemon(**kwargs) -> MongoDaemon:
    base = Path(tempfile.mkdtemp(prefix="dbops-mongo-"))
    storage = base / "data"
    storage.mkdir()
    return MongoDaemon(storage_path=storage, port=free_port(), **kwargs).start()


def destroy_daemon(daemon: MongoDaemon) -> None:
    daemon.stop()
    shutil.rmtree(daemon.storage_path.parent, ignore_errors=True)


@dataclass
class AuthenticatedMongo:
    """An in-process SecantusDB with SCRAM enforced: users are created without --auth, then the server is restarted
    on the same storage with require_auth (how SecantusDB is provisioned). `admin_uri` logs in as a root user."""

    storage_path: Path
    server: object
    host: str
    admin_user: str = "dbops_root"
    admin_password: str = "root-secret"

    def uri_for(self, user: str, password: str, auth_db: str) -> str:
        return f"mongodb://{user}:{password}@{self.host}/?authSource={auth_db}&directConnection=true"

    @property
    def admin_uri(self) -> str:
        return self.uri_for(self.admin_user, self.admin_password, "admin")

    def stop(self) -> None:
        self.server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(self.storage_path, ignore_errors=True)


def _secantus_uri(server: object) -> str:
    uri = server.uri  # type: ignore[attr-defined]
    return uri() if callable(uri) else uri


def new_authenticated_server(provision) -> AuthenticatedMongo:
    """provision(client) creates the users and data (a root admin is created first); then SCRAM is switched on."""
    import pymongo
    from secantus import SecantusDBServer

    storage = Path(tempfile.mkdtemp(prefix="dbops-mongo-auth-"))
    open_server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage))
    open_server.start()
    client = pymongo.MongoClient(_secantus_uri(open_server))
    try:
        client.admin.command("createUser", AuthenticatedMongo.admin_user, pwd=AuthenticatedMongo.admin_password,
                             roles=["root"])
        provision(client)
    finally:
        client.close()
        open_server.stop()
    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage), require_auth=True)
    server.start()
    host = _secantus_uri(server).split("://", 1)[1].split("/", 1)[0]
    return AuthenticatedMongo(storage_path=storage, server=server, host=host)


@contextmanager
def authenticated_server(provision) -> Iterator[AuthenticatedMongo]:
    """new_authenticated_server(provision), stopped afterwards."""
    server = new_authenticated_server(provision)
    try:
        yield server
    finally:
        server.stop()
