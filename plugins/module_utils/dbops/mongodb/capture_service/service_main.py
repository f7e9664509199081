"""The installed change capture service: <dir>/bin/dbops-change-capture --config <dir>/conf/capture.json

Runs mongodb.backup.capture.ChangeCapture until SIGTERM (the buffer is flushed first; kill -9 is safe as well: the
next start resumes where the newest committed chunk ends). Everything comes from the configuration file (mode 0600:
it holds the MongoDB URI and the S3 keys, which must stay out of the process list and the unit file), so nothing
depends on the environment or on $HOME. One JSON object per line on stderr (the log file or the journal); the
outcome of the last run is also kept in the status file that the health report reads. Exit codes: 0 stopped,
2 history lost (a new dump is needed, restarting cannot help), 1 any other error (the supervisor restarts it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import (
    CaptureHistoryLost,
    ChangeCapture,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions

# The service runs on its own under systemd or the pid-file supervisor, never inside a module: it prints its log
# lines and exits with its status like any daemon.
# pylint: disable=ansible-bad-function

EXIT_STOPPED = 0
EXIT_FAILED = 1
EXIT_HISTORY_LOST = 2


def _log(event: str, data: dict[str, Any]) -> None:
    line = {"time": to_iso(utc_now(), timespec="milliseconds"), "event": event, **data}
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()


def write_status(path: str | None, state: str, **details: Any) -> None:
    """The last run's outcome, atomically (read by the health report while the service writes it)."""
    if not path:
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps({"state": state, "pid": os.getpid(), "at": to_iso(utc_now()), **details},
                              default=str, sort_keys=True) + "\n")
    os.replace(tmp, target)


def load_config(path: str) -> dict[str, Any]:
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("mongodb_uri", "database", "repository"):
        if not config.get(key):
            raise DbopsError(f"the capture configuration {path} has no {key}")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The sevenp.dbops MongoDB change capture service")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        _log("capture_signal", {"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    status_file = None
    try:
        config = load_config(args.config)
        status_file = config.get("status_file")
        repository = replace(RepositoryOptions.from_settings(config), local_owner=config.get("local_owner"))
        database = config["database"]

        def log(event: str, data: dict[str, Any]) -> None:
            _log(event, data)
            if event == "capture_resume":
                # From here on every change is captured: what `started` waits for.
                write_status(status_file, "running", database=database, resumed_from=data.get("from"),
                             mode=data.get("mode"))

        capture = ChangeCapture(
            config["mongodb_uri"], repository.open(), database, mode=config.get("mode") or "auto",
            start_at=config.get("start_at") or "latest_dump",
            flush_interval_s=float(config.get("flush_interval_seconds") or 1.0),
            checkpoint_interval_s=float(config.get("checkpoint_interval_seconds") or 1.0), log=log)
        stats = capture.run(stop)
        _log("capture_stopped", {"stats": stats.__dict__})
        write_status(status_file, "stopped", covered_until=stats.covered_until, reason=stats.stopped_because)
        return EXIT_STOPPED
    except CaptureHistoryLost as exc:
        _log("capture_history_lost", {"error": str(exc)})
        write_status(status_file, "history_lost", error=str(exc))
        return EXIT_HISTORY_LOST
    except DbopsError as exc:
        _log("capture_error", {"error": str(exc)})
        write_status(status_file, "failed", error=str(exc))
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a daemon reports any failure as one line; its supervisor restarts it
        _log("capture_error", {"error": f"{type(exc).__name__}: {exc}"})
        write_status(status_file, "failed", error=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
