"""The mongodb_copy module's engine: the MongoDB copy of a cutover, as a supervised process on the target's host.

States: ``started`` (install the copy's engine files, start its supervised process, which makes the initial copy
when one is due and then tails the source's change stream; a running copy with the same files is left alone),
``stopped`` (stop the process; its state document stays, so a later start resumes from its token), ``absent``
(stop, remove the install, delete the state document), ``status`` (read only). Refusals come before any change:
a gap recorded (or found: the resume point older than the source's oldest oplog entry), an initial copy into a
target database that already has collections. Check mode plans: it reads, and installs, starts or stops nothing.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connected,
    describe_error,
    pymongo_errors,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy import state_writer
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.errors import (
    CopyError,
    CopyGapDetected,
    CopyWaitTimeout,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.gap_check import check_gap
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.health import health_of
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.initial_copy import target_collections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.layout import (
    CopyLayout,
    check_database,
    check_direction,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.process import (
    CopyConfig,
    refusal_for_non_empty,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.copy.service import CopyService
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_lag import (
    parse_cluster_time,
    position_of,
    position_text,
    reading_from,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.mongo_copy_state import (
    STATE_COLLECTION,
    STATE_DATABASE,
    state_from_document,
)

STATES = ("started", "stopped", "absent", "status")
DEFAULT_CUTOVER_DIR = "/var/lib/sevenp-dbops/cutover"
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class MongoCopyRequest:
    source_uri: str
    target_uri: str
    database: str
    direction: str
    state: str = "started"
    cutover_dir: str = DEFAULT_CUTOVER_DIR
    initial_copy: bool = True
    start_at: str | None = None
    wait_for_initial_copy: bool = True
    timeout: float = 600.0
    python: str | None = None
    check_mode: bool = False


@dataclass
class MongoCopyResult(JobReport):
    changed: bool = False
    running: bool = False
    pid: int | None = None
    status: str | None = None
    applied: str | None = None
    lag_seconds: float | None = None
    gap: str | None = None
    initial_copy_done: bool = False
    log_path: str | None = None
    install_dir: str | None = None
    log_tail: list[str] = field(default_factory=list)


def validate(request: MongoCopyRequest) -> None:
    if request.state not in STATES:
        raise DbopsError(f"state must be one of {', '.join(STATES)}, not {request.state!r}")
    check_direction(request.direction)
    check_database(request.database)
    if not request.source_uri or not request.target_uri:
        raise DbopsError("source_uri and target_uri are both required")
    if request.start_at:
        parse_cluster_time(request.start_at)
    if request.timeout <= 0:
        raise DbopsError("timeout must be > 0")


def service_for(request: MongoCopyRequest) -> CopyService:
    return CopyService(CopyLayout(request.cutover_dir, request.direction), request.python or sys.executable)


def config_for(request: MongoCopyRequest) -> CopyConfig:
    return CopyConfig(source_uri=request.source_uri, target_uri=request.target_uri, database=request.database,
                      direction=request.direction, initial_copy=request.initial_copy and not request.start_at,
                      start_at=request.start_at or None)


def run_copy(request: MongoCopyRequest) -> MongoCopyResult:
    validate(request)
    service = service_for(request)
    result = MongoCopyResult(log_path=service.layout.log_file, install_dir=service.layout.directory)
    if request.state in ("stopped", "absent"):
        # The process is local: it is stopped before any server is reached, so that a copy whose servers are gone
        # (a host lost, a test's servers torn down) can still be stopped.
        _stop(request, service, result)
    with ExitStack() as stack:
        target = stack.enter_context(connected(request.target_uri, "managing the copy on the target"))
        if request.state == "started":
            source = stack.enter_context(connected(request.source_uri, "reading the source"))
            _start(request, service, source, target, result)
        elif request.state == "stopped":
            _stop(request, service, result)
        elif request.state == "absent":
            _absent(request, service, target, result)
        _report(request, service, target, result, stack)
    return result


# ------------------------------------------------------------------------------------------------------ started
def _start(request: MongoCopyRequest, service: CopyService, source: Any, target: Any,
           result: MongoCopyResult) -> None:
    queries = result.queries
    queries.append(f"{STATE_DATABASE}.{STATE_COLLECTION}.findOne({{_id: {request.database!r}}})  // on the target")
    document = state_writer.raw_state(target, request.database)
    _refuse_before_start(request, service, source, target, document, result)
    config = config_for(request)
    installed = service.install(config, check_mode=request.check_mode)
    queries.append(f"install the copy engine in {service.layout.directory}"
                   + (f" ({len(installed.written)} files to write)" if installed.changed else " (up to date)"))
    pid = service.running_pid()
    command = f"{service.python} {service.layout.directory}/bin/dbops-supervise start --pid-file " \
              f"{service.layout.pid_file} --log-file {service.layout.log_file} -- {' '.join(service.start_command())}"
    result.changed = installed.changed
    if pid is not None and not installed.changed:
        return
    if pid is not None:
        queries.append(f"{service.layout.directory}/bin/dbops-supervise stop --pid-file {service.layout.pid_file}"
                       "  // the installed files changed: restart")
    queries.append(command)
    result.changed = True
    if request.check_mode:
        return
    if pid is not None:
        service.stop()
    log_offset = _log_size(service)
    service.start()
    due_copy = request.initial_copy and not request.start_at and not (document or {}).get("initial_copy_done")
    _await_running(request, service, target, log_offset, wait_copy=due_copy and request.wait_for_initial_copy)


def _refuse_before_start(request: MongoCopyRequest, service: CopyService, source: Any, target: Any,
                         document: dict[str, Any] | None, result: MongoCopyResult) -> None:
    if document is not None and document.get("gap"):
        raise CopyGapDetected(str(document["gap"]))
    restarting_at = request.start_at and (document is None or document.get("start_at") != request.start_at)
    if document is not None and document.get("applied") is not None and not restarting_at \
            and service.running_pid() is None:
        gap = check_gap(source, request.database, document["applied"], result.queries)
        if gap is not None:
            if not request.check_mode:
                state_writer.record_gap(target, request.database, gap)
            raise CopyGapDetected(gap)
    if request.initial_copy and not request.start_at and document is None:
        result.queries.append(f"db.getSiblingDB({request.database!r}).getCollectionNames()  // on the target")
        existing = target_collections(target, request.database)
        if existing:
            raise CopyError(refusal_for_non_empty(request.database, existing))


def _log_size(service: CopyService) -> int:
    try:
        return Path(service.layout.log_file).stat().st_size
    except OSError:
        return 0


def _new_log_failure(service: CopyService, offset: int) -> str | None:
    """The first copy_error or copy_gap line the process logged since offset, if any."""
    try:
        with open(service.layout.log_file, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            for line in handle:
                if '"event": "copy_error"' in line or '"event": "copy_gap"' in line:
                    return line.strip()
    except OSError:
        return None
    return None


def _await_running(request: MongoCopyRequest, service: CopyService, target: Any, log_offset: int, *,
                   wait_copy: bool) -> None:
    """Until the process reports itself running (after the initial copy when waiting for it), or it fails."""
    deadline = time.monotonic() + request.timeout
    started = time.time()
    while True:
        document = state_writer.raw_state(target, request.database)
        if document is not None:
            health = health_of(state_from_document(document))
            beat = document.get("heartbeat_at")
            fresh = beat is not None and as_utc(beat).timestamp() >= started - 1
            if health.gap:
                raise CopyGapDetected(health.gap)
            if health.running and fresh:
                return
            if not wait_copy and document.get("status") == state_writer.INITIAL_COPY:
                return
        failure = _new_log_failure(service, log_offset)
        if failure is not None:
            raise CopyError(f"the copy process failed (log {service.layout.log_file}): {failure}")
        if time.monotonic() >= deadline:
            raise CopyWaitTimeout(f"the copy process did not report itself running within {request.timeout:g}s "
                                  f"(log {service.layout.log_file}: {' | '.join(service.log_tail(3))})")
        time.sleep(POLL_SECONDS)


# ------------------------------------------------------------------------------------------------ stopped/absent
def _stop(request: MongoCopyRequest, service: CopyService, result: MongoCopyResult) -> None:
    if service.running_pid() is None:
        return
    result.changed = True
    result.queries.append(f"{service.layout.directory}/bin/dbops-supervise stop --pid-file {service.layout.pid_file}")
    if not request.check_mode:
        service.stop()


def _absent(request: MongoCopyRequest, service: CopyService, target: Any, result: MongoCopyResult) -> None:
    _stop(request, service, result)
    removed = service.remove(check_mode=True)
    if removed.changed:
        result.changed = True
        result.queries.append(f"remove {service.layout.directory}")
        if not request.check_mode:
            service.remove()
    result.queries.append(f"{STATE_DATABASE}.{STATE_COLLECTION}.deleteOne({{_id: {request.database!r}}})"
                          "  // on the target")
    if state_writer.raw_state(target, request.database) is not None:
        result.changed = True
        if not request.check_mode:
            state_writer.delete_state(target, request.database)


# ------------------------------------------------------------------------------------------------------- report
def _report(request: MongoCopyRequest, service: CopyService, target: Any, result: MongoCopyResult,
            stack: ExitStack) -> None:
    result.pid = service.running_pid()
    document = state_writer.raw_state(target, request.database)
    if document is None:
        result.running = False
        return
    state = state_from_document(document)
    result.status = state.status
    result.gap = state.gap
    result.initial_copy_done = state.initial_copy_done
    result.running = result.pid is not None and not state.gap and state.status in (
        state_writer.RUNNING, state_writer.INITIAL_COPY)
    if state.applied is not None:
        result.applied = position_text(position_of(state.applied))
    result.log_tail = service.log_tail(5) if result.pid is None or state.gap else []
    try:
        source = stack.enter_context(connected(request.source_uri, "reading the source"))
        if state.applied is not None:
            result.lag_seconds = reading_from(source.admin.command("hello"), state.applied).lag_seconds
            if result.gap is None and result.pid is None:
                result.gap = check_gap(source, request.database, state.applied, result.queries)
    except DbopsError as exc:
        result.warnings.append(f"the source could not be read for the lag: {exc}")
    except pymongo_errors.PyMongoError as exc:
        result.warnings.append(f"the source could not be read for the lag: {describe_error(exc)}")
