"""The change capture service's states: started, stopped, absent, status (the change_capture module's engine).

started: install or update the files (installed_engine.py), the systemd unit where systemd runs, then start it;
a running service whose files changed is restarted so it never runs an older engine than the collection that
installed it; nothing changed and running means no change. stopped: stop it, keep the files. absent: stop it and
remove the unit and the installation directory; the archived changes in the repository stay. status: the manager's
view plus the archive's health. Check mode plans and never writes, starts or stops anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.health import (
    capture_health,
    last_run,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.install import (
    CaptureServiceError,
    CaptureServiceSpec,
    install,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.managers import (
    DEFAULT_UNIT_DIR,
    Manager,
    choose_manager,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.supervision.installed_engine import remove_engine

STATES = ("started", "stopped", "absent", "status")


@dataclass(frozen=True)
class CaptureServiceRequest:
    state: str
    spec: CaptureServiceSpec
    repository: RepositoryOptions | None = None  # for status: the archive's health
    manager: str = "auto"
    unit_dir: str = DEFAULT_UNIT_DIR
    start_timeout: float = 60.0
    check_mode: bool = False


@dataclass
class CaptureServiceResult(JobReport):
    changed: bool = False
    state: str = ""
    name: str = ""
    install_dir: str = ""
    manager: str = ""
    running: bool = False
    pid: int | None = None
    restarted: bool = False
    files: list[str] = field(default_factory=list)
    log_file: str | None = None
    command: list[str] = field(default_factory=list)
    health: dict[str, Any] | None = None


def manage_capture_service(request: CaptureServiceRequest, manager: Manager | None = None) -> CaptureServiceResult:
    if request.state not in STATES:
        raise CaptureServiceError(f"unknown state {request.state!r}: use {', '.join(STATES)}")
    spec = request.spec
    manager = manager or choose_manager(spec, request.manager, request.unit_dir)
    result = CaptureServiceResult(state=request.state, name=spec.name, install_dir=spec.directory,
                                  manager=manager.kind,
                                  log_file=spec.log_file if manager.kind == "supervisor" else None)
    running = manager.state().running
    if request.state == "started":
        _started(request, manager, result, running)
    elif request.state == "stopped":
        result.changed = running
        result.running = running and request.check_mode
        if running and not request.check_mode:
            manager.stop()
        result.queries.append(f"stop {spec.name}" if running else f"{spec.name} is not running")
    elif request.state == "absent":
        _absent(request, manager, result, running)
    if request.state == "status" or (request.state == "started" and not request.check_mode):
        after = manager.state()
        result.running, result.pid = after.running, after.pid
    if request.state == "started":
        result.command = spec.command()
    if request.state == "status" and request.repository is not None:
        result.health = capture_health(request.repository.open(), spec.database,
                                       uri=spec.config.get("mongodb_uri"), running=result.running,
                                       status_file=spec.status_file)
    return result


def _started(request: CaptureServiceRequest, manager: Manager, result: CaptureServiceResult, running: bool) -> None:
    spec = request.spec
    files = install(spec, check_mode=request.check_mode)
    unit_changed = manager.install_unit(request.check_mode)
    result.files = [*files.written, *(manager.files() if unit_changed else [])]
    # Only the files the service runs from or reads make a restart necessary (a new run/ or log/ does not).
    stale = running and (unit_changed or any(not path.endswith("/") for path in files.written))
    result.changed = files.changed or unit_changed or not running or stale
    if request.check_mode:
        result.running = running
        result.queries.append(f"restart {spec.name}" if stale else
                              f"start {spec.name}" if not running else f"{spec.name} is running")
        return
    if stale:
        Path(spec.status_file).unlink(missing_ok=True)
        manager.restart()
        result.restarted = True
        result.queries.append(f"restart {spec.name} ({manager.kind}): its files changed")
    elif not running:
        Path(spec.status_file).unlink(missing_ok=True)
        manager.start()
        result.queries.append(f"start {spec.name} ({manager.kind})")
    else:
        return
    wait_until_capturing(spec, request.start_timeout)


def wait_until_capturing(spec: CaptureServiceSpec, timeout: float) -> None:
    """Return once the new run has fixed its resume point (every later change is captured); raise when it failed."""
    deadline = time.monotonic() + timeout
    while True:
        run = last_run(spec.status_file) or {}
        if run.get("state") == "running":
            return
        if run.get("state") in ("failed", "history_lost"):
            raise CaptureServiceError(f"{spec.name} did not start capturing: {run.get('error')}")
        if time.monotonic() > deadline:
            raise CaptureServiceError(f"{spec.name} did not start capturing within {timeout:.0f}s; see "
                                      f"{spec.log_file} (supervisor) or journalctl -u {spec.name} (systemd)")
        time.sleep(0.1)


def _absent(request: CaptureServiceRequest, manager: Manager, result: CaptureServiceResult, running: bool) -> None:
    spec = request.spec
    result.running = running and request.check_mode
    if running:
        result.changed = True
        result.queries.append(f"stop {spec.name}")
        if not request.check_mode:
            manager.stop()
    if manager.remove_unit(request.check_mode):
        result.changed = True
        result.files.extend(manager.files())
    removed = remove_engine(spec.directory, check_mode=request.check_mode)
    result.changed = result.changed or removed.changed
    result.files.extend(removed.written)
