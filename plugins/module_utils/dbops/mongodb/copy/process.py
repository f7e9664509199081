"""The copy process, as its supervisor runs it from the installed engine:

    <python3> <dir>/bin/dbops-mongodb-copy --config <dir>/conf/copy.json

The configuration (0600, it holds the URIs) names the source and target (the target through an admin user: the
application's users are fenced there), the database, the direction and how to begin: with the initial copy, or at
``start_at`` ("<seconds>:<increment>", the reverse copy after a switch), or at the source's present time.
What is already done is read from the state document on the target, so a restart after a crash or a kill -9
carries on: an interrupted initial copy starts over on an emptied target, a running tail resumes from its token.
One JSON object per line on stderr (the supervisor's log file). SIGTERM stops it after the current event.
On a gap (the resume point has left the source's oplog) it records it in the state document and waits, applying
nothing, until it is stopped: restarting it would only find the same gap. Exit codes: 0 stopped, 2 stopped after a
gap (prepare again), 1 any other error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson, connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy import state_writer
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import CopyError, CopyGapDetected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.initial_copy import (
    InitialCopyStopped,
    clear_target,
    copy_database,
    source_cluster_time,
    target_collections,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.tail import CopyTail, TailSettings
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import parse_cluster_time

EXIT_STOPPED = 0
EXIT_FAILED = 1
EXIT_GAP = 2


@dataclass(frozen=True)
class CopyConfig:
    source_uri: str
    target_uri: str
    database: str
    direction: str
    initial_copy: bool = True
    start_at: str | None = None
    batch_max: int = 500
    await_ms: int = 100

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CopyConfig:
        return cls(source_uri=data["source_uri"], target_uri=data["target_uri"], database=data["database"],
                   direction=data["direction"], initial_copy=bool(data.get("initial_copy", True)),
                   start_at=data.get("start_at") or None, batch_max=int(data.get("batch_max") or 500),
                   await_ms=int(data.get("await_ms") or 100))

    def to_dict(self) -> dict[str, Any]:
        return {"source_uri": self.source_uri, "target_uri": self.target_uri, "database": self.database,
                "direction": self.direction, "initial_copy": self.initial_copy, "start_at": self.start_at,
                "batch_max": self.batch_max, "await_ms": self.await_ms}


def timestamp_of(text: str) -> Any:
    position = parse_cluster_time(text)
    return bson.timestamp.Timestamp(position >> 32, position & 0xFFFFFFFF)


def _log(event: str, data: dict[str, Any]) -> None:
    line = {"time": to_iso(utc_now(), timespec="milliseconds"), "event": event, **data}
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()


def prepare_start(config: CopyConfig, source: Any, target: Any, log: Any = _log,
                  stop: threading.Event | None = None) -> dict[str, Any]:
    """Bring the state document to where the tail can begin (initial copy, start_at or now); returns it."""
    database, queries = config.database, []  # type: ignore[var-annotated]
    state = state_writer.raw_state(target, database)
    if state is not None and state.get("gap"):
        raise CopyGapDetected(str(state["gap"]))
    if config.start_at and (state is None or state.get("start_at") != config.start_at):
        state_writer.begin_at(target, database, config.direction, timestamp_of(config.start_at), config.start_at)
        log("copy_start_at", {"start_at": config.start_at})
    elif state is None or not state.get("initial_copy_done"):
        if not config.initial_copy:
            started = source_cluster_time(source)
            state_writer.begin_at(target, database, config.direction, started, None)
            log("copy_start_now", {"cluster_time": f"{started.time}:{started.inc}"})
        else:
            if state is None and target_collections(target, database):
                raise CopyError(refusal_for_non_empty(database, target_collections(target, database)))
            clear_target(target, database, queries)  # what an interrupted initial copy of ours left
            started = source_cluster_time(source)
            state_writer.begin_initial_copy(target, database, config.direction, started)
            log("copy_initial_begin", {"cluster_time": f"{started.time}:{started.inc}"})
            result = copy_database(source, target, database, queries, log=log, stop=stop)
            state_writer.finish_initial_copy(target, database, started)
            log("copy_initial_done", {"collections": len(result.collections), "documents": result.documents,
                                      "indexes": result.indexes})
    state = state_writer.raw_state(target, database)
    if state is None:  # pragma: no cover - written just above
        raise CopyError("the copy's state document vanished while it started")
    return state


def refusal_for_non_empty(database: str, names: list[str]) -> str:
    return (f"the target's database {database!r} already has collections ({', '.join(names[:10])}) and no copy "
            "state: an initial copy needs an empty target database. Drop it on the target, or start with "
            "initial_copy: false (or start_at) if it already holds the source's data")


def run(config: CopyConfig, stop: threading.Event, log: Any = _log) -> int:
    source = connect(config.source_uri)
    target = connect(config.target_uri)
    try:
        try:
            state = prepare_start(config, source, target, log, stop)
            tail = CopyTail(source, target, config.database, log=log,
                            settings=TailSettings(batch_max=config.batch_max, await_ms=config.await_ms))
            stats = tail.run(stop, state.get("applied"), state.get("resume_token"))
        except InitialCopyStopped as exc:
            log("copy_stopped", {"during": "initial_copy", "detail": exc.message})
            return EXIT_STOPPED
        except CopyGapDetected as exc:
            state_writer.record_gap(target, config.database, exc.message)
            log("copy_gap", {"error": exc.message})
            # Idle until stopped rather than exit: the supervisor would only restart it into the same gap.
            stop.wait()
            return EXIT_GAP
        state_writer.record_stopped(target, config.database)
        log("copy_stopped", {"events": stats.events, "applied": stats.applied})
        return EXIT_STOPPED
    finally:
        source.close()
        target.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbops-mongodb-copy", description="The MongoDB copy of a cutover")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        _log("copy_signal", {"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = CopyConfig.from_dict(json.load(handle))
        return run(config, stop)
    except DbopsError as exc:
        _log("copy_error", {"error": str(exc)})
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a service reports any failure as one line; its supervisor restarts it
        _log("copy_error", {"error": redact(f"{type(exc).__name__}: {exc}")})
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover - the installed entry point calls main()
    sys.exit(main())  # pylint: disable=ansible-bad-function
