"""Run the change capture as a long-running process:

    python -m ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture_daemon \
        --repository /backups/repo --database app [--mode auto] [--start-at latest_dump] [--until <s>.<i>]

The MongoDB URI comes from --uri or, to keep the password out of the process list, the environment variable
DBOPS_MONGODB_URI; S3 settings from DBOPS_S3_ENDPOINT_URL, DBOPS_S3_ACCESS_KEY, DBOPS_S3_SECRET_KEY,
DBOPS_S3_REGION. SIGTERM/SIGINT stop it cleanly (the buffer is flushed); kill -9 is safe too: the next start resumes
where the last committed chunk ended. --lock-file makes a second instance for the same archive refuse to start.
One JSON object per line on stderr describes what happens. Exit codes: 0 stopped, 2 history lost (take a new dump),
3 another instance holds the lock, 1 any other error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import (
    CaptureHistoryLost,
    ChangeCapture,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository


def _log(event: str, data: dict[str, Any]) -> None:
    line = {"time": to_iso(utc_now(), timespec="milliseconds"), "event": event, **data}
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Continuous capture of a MongoDB database's changes")
    parser.add_argument("--uri", default=os.environ.get("DBOPS_MONGODB_URI"))
    parser.add_argument("--repository", required=True, help="directory or s3://bucket/prefix")
    parser.add_argument("--database", required=True)
    parser.add_argument("--mode", default="auto", choices=["auto", "oplog", "change_stream"])
    parser.add_argument("--start-at", default="latest_dump",
                        help="only for an empty archive: latest_dump (default), now, or <seconds>.<increment>")
    parser.add_argument("--until", default=None, help="exit once the archive covers this cluster time")
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--flush-interval", type=float, default=1.0, help="seconds a change may wait in memory")
    parser.add_argument("--chunk-max-entries", type=int, default=5000)
    parser.add_argument("--lock-file", default=None)
    return parser


def _lock(path: str):
    import fcntl

    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.uri:
        _log("capture_error", {"error": "no MongoDB URI: pass --uri or set DBOPS_MONGODB_URI"})
        return 1
    lock = None
    if args.lock_file:
        lock = _lock(args.lock_file)
        if lock is None:
            _log("capture_error", {"error": f"another capture holds {args.lock_file}"})
            return 3
    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        _log("capture_signal", {"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        repository = open_repository(
            args.repository, s3_endpoint_url=os.environ.get("DBOPS_S3_ENDPOINT_URL"),
            s3_access_key=os.environ.get("DBOPS_S3_ACCESS_KEY"), s3_secret_key=os.environ.get("DBOPS_S3_SECRET_KEY"),
            s3_region=os.environ.get("DBOPS_S3_REGION"),
        )
        capture = ChangeCapture(args.uri, repository, args.database, mode=args.mode, start_at=args.start_at,
                                flush_interval_s=args.flush_interval, chunk_max_entries=args.chunk_max_entries,
                                log=_log)
        stats = capture.run(stop, until=args.until, max_seconds=args.max_seconds)
        _log("capture_stopped", {"stats": stats.__dict__})
        return 0
    except CaptureHistoryLost as exc:
        _log("capture_history_lost", {"error": str(exc)})
        return 2
    except DbopsError as exc:
        _log("capture_error", {"error": str(exc)})
        return 1
    except Exception as exc:  # noqa: BLE001 - a daemon reports any failure as one line; its supervisor restarts it
        _log("capture_error", {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        if lock is not None:
            lock.close()


if __name__ == "__main__":
    raise SystemExit(main())
