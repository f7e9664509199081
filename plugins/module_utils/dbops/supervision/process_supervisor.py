"""A pid-file supervisor: runs one command, restarts it whenever it exits, stops it on request.

    <python3> process_supervisor.py start  --pid-file <file> [--log-file <file>] -- <command> [args...]
    <python3> process_supervisor.py stop   --pid-file <file>
    <python3> process_supervisor.py status --pid-file <file>

For hosts without systemd (containers, test machines), where the WAL uploader and the MongoDB change capture must
still come back after a crash or a kill -9. `start` detaches a supervisor (its own session, stdin closed), which
holds an exclusive lock on the pid file for its whole life: the lock, not the pid (pids are reused), says whether
it runs. `start` on a running supervisor changes nothing and says so ("running"); otherwise it says "started" once
the supervisor holds the lock. The command's stdout and stderr go to the log file; after an exit it is restarted
with a backoff that doubles from 1 s to 30 s and goes back to 1 s once a run lasted a minute. `stop` sends SIGTERM
to the supervisor, which passes it to the command, waits for it and exits.

stdlib only: it runs on the host's python3 next to the WAL archiver, without the collection's virtualenv.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# A supervisor runs on its own on the database host, started by the role or by hand, never inside a module: it has
# no AnsibleModule and its run_command, prints its verdicts and exits with its status like any command line tool.
# pylint: disable=ansible-bad-function

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_RUNNING = 3  # status: like an LSB init script's "not running"
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_RUN_SECONDS = 60.0
START_TIMEOUT_SECONDS = 10.0
# How long a new supervisor keeps asking for the pid file's exclusive lock. A `status` or the starting `start`
# itself holds a shared lock for the instant of its probe, and a supervisor that gave up on that would never run;
# a supervisor that really runs holds the lock for its whole life, far longer than this.
LOCK_WAIT_SECONDS = 2.0
LOCK_RETRY_SECONDS = 0.005


@dataclass(frozen=True)
class Supervised:
    pid_file: Path
    command: tuple[str, ...] = ()
    log_file: Path | None = None

    def running_pid(self) -> int | None:
        """The supervisor's pid while one holds the pid file's lock, else None."""
        try:
            with open(self.pid_file, encoding="ascii") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    text = handle.read().strip()
                    return int(text) if text.isdigit() else -1
                return None
        except FileNotFoundError:
            return None

    def start(self) -> str:
        """'running' when a supervisor already runs, 'started' once a new one holds the lock."""
        if self.running_pid() is not None:
            return "running"
        if not self.command:
            raise ValueError("start needs the command to supervise after --")
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        if os.fork() == 0:
            # The first child: a new session, then a grandchild that no terminal or caller waits for.
            os.setsid()
            if os.fork() == 0:
                try:
                    self._supervise()
                finally:
                    os._exit(0)  # pylint: disable=protected-access
            os._exit(0)  # pylint: disable=protected-access
        os.wait()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self.running_pid() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the supervisor did not start (see {self.log_file or 'its command'})")
            time.sleep(0.02)
        return "started"

    def stop(self, timeout: float = 60.0) -> str:
        """'stopped' once the supervisor (and with it the command) is gone, 'not running' when none was."""
        pid = self.running_pid()
        if pid is None:
            return "not running"
        if pid > 0:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running_pid() is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the supervisor {pid} did not stop within {timeout:.0f}s")
            time.sleep(0.05)
        return "stopped"

    def _lock(self) -> IO[str] | None:
        handle = open(self.pid_file, "a+", encoding="ascii")  # noqa: SIM115 - held for the supervisor's life
        if not _exclusive_lock(handle, LOCK_WAIT_SECONDS):
            handle.close()
            return None  # another supervisor won the race: it does the job
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle

    def _supervise(self) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if self.log_file else devnull
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        lock = self._lock()
        if lock is None:
            return
        stopping = False
        child: subprocess.Popen[bytes] | None = None

        def request_stop(_signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        backoff = FIRST_BACKOFF_SECONDS
        with lock:
            while not stopping:
                started = time.monotonic()
                child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)  # noqa: S603 - our own command
                status = child.wait()
                if stopping:
                    break
                backoff = FIRST_BACKOFF_SECONDS if time.monotonic() - started >= STABLE_RUN_SECONDS else backoff
                _note(f"{self.command[0]} exited with {status}; restarting in {backoff:.0f}s")
                deadline = time.monotonic() + backoff
                while not stopping and time.monotonic() < deadline:
                    time.sleep(0.1)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            _note("supervisor stopped")


def _exclusive_lock(handle: IO[str], wait_seconds: float) -> bool:
    """True once handle holds its file's exclusive lock; False when it was still refused after wait_seconds."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(LOCK_RETRY_SECONDS)


def _note(message: str) -> None:
    # Straight to fd 2, the log file once the supervisor runs, whatever sys.stderr has been replaced with.
    os.write(2, f"dbops-supervisor: {message}\n".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbops-supervise", description=__doc__.split("\n\n", maxsplit=1)[0],
                                     epilog="start: -- <command> [args...] after the options")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--log-file")
    # Everything after "--" is the supervised command, its own options included: split off before parsing.
    argv = sys.argv[1:] if argv is None else argv
    command = tuple(argv[argv.index("--") + 1:]) if "--" in argv else ()
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    supervised = Supervised(Path(args.pid_file), command, Path(args.log_file) if args.log_file else None)
    try:
        if args.action == "start":
            print(supervised.start())
        elif args.action == "stop":
            print(supervised.stop())
        else:
            pid = supervised.running_pid()
            print("not running" if pid is None else f"running {pid}")
            return EXIT_OK if pid is not None else EXIT_NOT_RUNNING
    except (OSError, RuntimeError, ValueError) as exc:
        _note(str(exc))
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - the installed entry point calls main()
    sys.exit(main())
