"""The wal_archiving module's engine: archive_mode / archive_command / restore_command through ALTER SYSTEM.

archive_command and restore_command take effect on a reload; archive_mode only on a restart, so the server is
restarted exactly when archive_mode has to change (and allow_restart permits it). A value given on the server's
command line (-c / pg_ctl -o) silently overrides ALTER SYSTEM: that is detected and reported instead of claiming
success.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import wal_health
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect, sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver_install import (
    ArchiverInstall,
    check_reachable,
    install,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.chain import archiver_status
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions

MANAGED = ("archive_mode", "archive_command", "restore_command", "archive_timeout")
STATES = ("enabled", "disabled", "status")


class ArchivingError(DbopsError):
    """Archiving could not be configured as asked."""


@dataclass(frozen=True)
class ArchivingRequest:
    postgres_dsn: str
    state: str = "enabled"
    archive_command: str | None = None
    restore_command: str | None = None
    archive_timeout: str | None = None
    # pgdata "": the data directory the server reports; log_file None: the file the server logs to now.
    cluster: ClusterOnHost = field(default_factory=lambda: ClusterOnHost(pgdata=""))
    allow_restart: bool = True
    repository: RepositoryOptions | None = None
    # Install the collection's archiver into this directory and use it (archive/restore commands default to it).
    archiver_dir: str | None = None
    archiver_python: str = "/usr/bin/python3"
    archiver_config: str | None = None
    push_retry_seconds: float = 30.0
    fetch_retry_seconds: float = 600.0
    # With a spool directory, archive_command hands segments to the long-lived uploader (upload_command), which
    # uploads upload_workers of them at a time; the caller runs the uploader as a service.
    spool_dir: str | None = None
    upload_workers: int = 4
    check_mode: bool = False


@dataclass
class ArchivingResult(JobReport):
    changed: bool = False
    restarted: bool = False
    restart_needed: bool = False
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    # The settings this run writes with ALTER SYSTEM (in check mode, would write): what --diff shows as changed.
    planned: dict[str, str] = field(default_factory=dict)
    archiver: dict[str, Any] | None = None
    wal_chain: dict[str, Any] | None = None
    archiver_files: list[str] = field(default_factory=list)
    archive_command: str | None = None
    restore_command: str | None = None
    uploader_command: list[str] | None = None


def _settings(conn) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "select name, setting, source, sourcefile, pending_restart from pg_settings where name = any(%s)",
        (list(MANAGED),),
    ).fetchall()
    return {name: {"setting": setting, "source": source, "sourcefile": sourcefile, "pending_restart": pending}
            for name, setting, source, sourcefile, pending in rows}


def _auto_conf_values(conn) -> dict[str, str]:
    """What postgresql.auto.conf holds for our settings (pending ones included), via pg_file_settings."""
    rows = conn.execute(
        "select name, setting from pg_file_settings where name = any(%s) and sourcefile like '%%postgresql.auto.conf'"
        " and error is null order by seqno", (list(MANAGED),),
    ).fetchall()
    return dict(rows)


def archiver_spec(request: ArchivingRequest) -> ArchiverInstall | None:
    if not request.archiver_dir:
        return None
    if request.repository is None:
        raise ArchivingError("installing the archiver needs the repository it archives to")
    config = {**request.repository.as_settings(), "push_retry_seconds": request.push_retry_seconds,
              "fetch_retry_seconds": request.fetch_retry_seconds}
    if request.spool_dir:
        if request.upload_workers < 1:
            raise ArchivingError(f"upload_workers must be at least 1, not {request.upload_workers}")
        config.update(spool_dir=request.spool_dir, upload_workers=request.upload_workers)
    return ArchiverInstall(directory=request.archiver_dir, python=request.archiver_python,
                           config_path=request.archiver_config, config=config, os_user=request.cluster.os_user)


def with_archiver_commands(request: ArchivingRequest, spec: ArchiverInstall | None) -> ArchivingRequest:
    if spec is None:
        return request
    return replace(request, archive_command=request.archive_command or spec.archive_command(),
                   restore_command=request.restore_command or spec.restore_command())


def desired_settings(request: ArchivingRequest) -> dict[str, str]:
    if request.state == "disabled":
        return {"archive_mode": "off"}
    if not request.archive_command:
        raise ArchivingError("archive_command is required to enable archiving")
    wanted = {"archive_mode": "on", "archive_command": request.archive_command}
    if request.restore_command is not None:
        wanted["restore_command"] = request.restore_command
    if request.archive_timeout is not None:
        wanted["archive_timeout"] = request.archive_timeout
    return wanted


def _check_overrides(current: dict[str, dict[str, Any]], wanted: dict[str, str]) -> None:
    for name, value in wanted.items():
        info = current.get(name, {})
        if info.get("source") in ("command line", "override", "environment variable") and info.get("setting") != \
                value:
            raise ArchivingError(
                f"{name} is set on the PostgreSQL command line (-c or pg_ctl -o), which overrides ALTER SYSTEM: "
                f"remove it from the server's start options, then run again"
            )


def configure_archiving(request: ArchivingRequest) -> ArchivingResult:
    if request.state not in STATES:
        raise ArchivingError(f"unknown state {request.state!r}: use enabled, disabled or status")
    if sql is None:
        raise ArchivingError("configuring archiving needs the Python package psycopg (3.x)")
    result = ArchivingResult()
    spec = archiver_spec(request) if request.state == "enabled" else None
    if spec is not None:
        installed = install(spec, check_mode=request.check_mode)
        result.archiver_files = installed.written
        result.changed = installed.changed
        if not request.check_mode:
            check_reachable(spec)  # before PostgreSQL is pointed at it
        request = with_archiver_commands(request, spec)
        result.uploader_command = spec.upload_command() if spec.spool_dir else None
    result.archive_command, result.restore_command = request.archive_command, request.restore_command
    with connect(request.postgres_dsn) as conn:
        current = _settings(conn)
        result.before = {name: info["setting"] for name, info in current.items()}
        if request.state != "status":
            wanted = desired_settings(request)
            _check_overrides(current, wanted)
            stored = _auto_conf_values(conn)
            for name, value in wanted.items():
                # In force now, or already stored by ALTER SYSTEM and waiting for a restart: nothing to write.
                in_file = stored.get(name)
                if (in_file == value) or (in_file is None and current[name]["setting"] == value):
                    continue
                statement = sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
                result.queries.append(statement.as_string(conn))
                result.planned[name] = value
                result.changed = True
                if not request.check_mode:
                    conn.execute(statement)
            mode_after = wanted.get("archive_mode")
            result.restart_needed = mode_after is not None and current["archive_mode"]["setting"] != mode_after
            if result.changed and not request.check_mode:
                conn.execute("select pg_reload_conf()")
                result.queries.append("select pg_reload_conf()")
        data_directory = conn.execute("select current_setting('data_directory')").fetchone()[0]

    if result.restart_needed and not request.check_mode:
        if not request.allow_restart:
            result.warnings.append("archive_mode changes only after a restart, which allow_restart forbids: "
                                   "restart PostgreSQL to start archiving")
        else:
            _restart(request, data_directory)
            result.restarted = result.changed = True
    if request.check_mode and result.restart_needed:
        result.changed = True

    with connect(request.postgres_dsn) as conn:
        after = _settings(conn)
        result.after = {name: info["setting"] for name, info in after.items()}
        if request.state != "status" and not request.check_mode:
            for name, value in desired_settings(request).items():
                if name == "archive_mode" and result.restart_needed and not result.restarted:
                    continue
                if after[name]["setting"] != value:
                    raise ArchivingError(
                        f"{name} is {after[name]['setting']!r} after configuration instead of {value!r} (source: "
                        f"{after[name]['source']}); is it set on the command line or in an included file?"
                    )
        result.archiver = archiver_status(conn)
        if result.archiver["failing"]:
            result.warnings.append(f"WAL archiving is failing: last failure on {result.archiver['last_failed_wal']} "
                                   f"at {result.archiver['last_failed_time']}")
    if request.repository is not None and request.state == "status":
        repo = request.repository.open()
        chain, _status, warnings = wal_health(repo, Catalog(repo))
        result.wal_chain = chain
        result.warnings.extend(warnings)
    return result


def _restart(request: ArchivingRequest, data_directory: str) -> None:
    control = request.cluster.control(request.cluster.pgdata or data_directory)
    log_file = request.cluster.log_file or control.current_log_file() or control.default_log_file("server")
    control.restart(log_file)
