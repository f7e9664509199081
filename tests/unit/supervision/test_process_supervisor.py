"""The pid-file supervisor: starts once, restarts its command after a kill -9, stops it with itself."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.process_supervisor import Supervised

# The supervised command: records its pid, then waits to be killed.
COMMAND = "import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(600)"


def started_pids(path: Path, count: int, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(line) for line in path.read_text().split()] if path.exists() else []
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"the command was not started {count} time(s)")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_restarts_the_command_after_kill_9_and_stops_it(tmp_path):
    pids_file = tmp_path / "pids"
    supervised = Supervised(tmp_path / "run" / "worker.pid", (sys.executable, "-c", COMMAND, str(pids_file)),
                            tmp_path / "worker.log")
    assert supervised.running_pid() is None
    assert supervised.start() == "started"
    try:
        assert supervised.start() == "running"  # idempotent: one supervisor
        first = started_pids(pids_file, 1)[0]
        os.kill(first, signal.SIGKILL)
        second = started_pids(pids_file, 2)[1]
        assert second != first and alive(second)
        assert "exited with -9" in (tmp_path / "worker.log").read_text()
    finally:
        assert supervised.stop() == "stopped"
    deadline = time.monotonic() + 10
    while alive(second) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(second)
    assert supervised.running_pid() is None
    assert supervised.stop() == "not running"
