"""SecantusDB (MongoDB wire protocol over WiredTiger) servers for the tests and the demo."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
