"""A throwaway HAProxy (mode tcp) in front of two servers named blue and green in one backend, with its runtime
API on a Unix socket in its own temp dir. Green starts in maintenance, so clients reach blue first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .ports import free_port, wait_for_port

HAPROXY = os.environ.get("DBOPS_HAPROXY", "haproxy")
BACKEND = "mongo"


@dataclass
class HaProxy:
    base_dir: Path
    blue: tuple[str, int]
    green: tuple[str, int]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.base_dir / "admin.sock"

    @property
    def config(self) -> Path:
        return self.base_dir / "haproxy.cfg"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def write_config(self) -> None:
        self.config.write_text(f"""global
    stats socket {self.socket} mode 600 level admin
    stats timeout 10s

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend mongodb
    bind 127.0.0.1:{self.port}
    default_backend {BACKEND}

backend {BACKEND}
    server blue {self.blue[0]}:{self.blue[1]}
    server green {self.green[0]}:{self.green[1]} disabled
""")

    def start(self) -> HaProxy:
        self.write_config()
        log = open(self.base_dir / "haproxy.log", "ab")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=20)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"HAProxy made no runtime socket {self.socket}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def new_haproxy(blue: tuple[str, int], green: tuple[str, int]) -> HaProxy:
    base = Path(tempfile.mkdtemp(prefix="dbops-haproxy-"))
    return HaProxy(base_dir=base, blue=blue, green=green).start()


def destroy_haproxy(proxy: HaProxy) -> None:
    proxy.stop()
    shutil.rmtree(proxy.base_dir, ignore_errors=True)
