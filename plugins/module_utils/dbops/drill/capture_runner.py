"""Runs the MongoDB change capture (mongodb.backup.capture.ChangeCapture) for the length of a drill.

The recovery point waits until the change archive covers its cluster time, so the capture must run while the point
is taken. Until the collection has its own way of keeping the capture running, the drill runs it here, in the
background (an async task), and stops it through a stop file once the point is taken: the restore needs the
archive only up to the point.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

STOP_FILE = "capture.stop"
STATUS_FILE = "capture.status.json"
POLL_S = 0.2


def _status_path(work_dir: str) -> Path:
    return Path(work_dir) / STATUS_FILE


def run_capture(uri: str, repository, database: str, work_dir: str, max_seconds: float) -> dict:
    """Capture until the stop file appears or max_seconds pass; the summary is also written to the status file."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import ChangeCapture

    Path(work_dir).mkdir(parents=True, exist_ok=True)
    _status_path(work_dir).unlink(missing_ok=True)
    stop = threading.Event()
    stop_file = Path(work_dir) / STOP_FILE

    def watch() -> None:
        while not stop.is_set():
            if stop_file.exists():
                stop.set()
                return
            time.sleep(POLL_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    summary: dict = {"started_at": time.time()}
    try:
        stats = ChangeCapture(uri, repository, database).run(stop, max_seconds=max_seconds)
        summary["stats"] = asdict(stats) if is_dataclass(stats) else dict(vars(stats))
    except DbopsError as exc:
        summary["error"] = str(exc)
    finally:
        stop.set()
        summary["finished_at"] = time.time()
        tmp = _status_path(work_dir).with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, default=str))
        os.replace(tmp, _status_path(work_dir))
    if "error" in summary:
        raise DbopsError(f"the MongoDB change capture stopped: {summary['error']}")
    return summary


def stop_capture(work_dir: str, timeout_s: float = 60.0) -> dict:
    """Ask the capture to stop (it flushes what it holds) and wait for its summary."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    (Path(work_dir) / STOP_FILE).touch()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return json.loads(_status_path(work_dir).read_text())
        except (OSError, ValueError):
            time.sleep(POLL_S)
    raise DbopsError(f"the MongoDB change capture did not stop within {timeout_s:.0f}s",
                     path=str(_status_path(work_dir)))
