"""The pid-file supervisor: starts once, restarts its command after a kill -9, stops it with itself."""

from __future__ import annotations

import os
import signal
import subprocess
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


# Another process's probe: a shared lock on the pid file, held for half a second.
PROBE = ("import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); print('held', flush=True); "
         "time.sleep(0.5)")


def test_starts_while_a_status_probe_holds_the_pid_file_s_shared_lock(tmp_path):
    # A probe (`status`, or `start` polling for its new supervisor) holds a shared lock for an instant; the new
    # supervisor must wait it out, not take it for a running supervisor and give up (start then timed out).
    pid_file = tmp_path / "run" / "worker.pid"
    pid_file.parent.mkdir()
    pid_file.write_text("")
    supervised = Supervised(pid_file, (sys.executable, "-c", COMMAND, str(tmp_path / "pids")), tmp_path / "w.log")
    with subprocess.Popen([sys.executable, "-c", PROBE, str(pid_file)], stdout=subprocess.PIPE, text=True) as probe:
        assert probe.stdout is not None and probe.stdout.readline().strip() == "held"
        try:
            assert supervised.start() == "started"
            assert supervised.running_pid() not in (None, -1)
        finally:
            assert supervised.stop() == "stopped"
