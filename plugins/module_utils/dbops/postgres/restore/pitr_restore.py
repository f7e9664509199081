"""Carrying out a PostgreSQL point-in-time restore on the database host.

Order matters, so that a bad backup or a bad target never costs the running server anything:

1. plan (pitr_plan): target, base backup, WAL chain; then every WAL segment and history file of the chain is
   read against its sha256 and segment size (wal_verification) — errors leave everything as it was;
2. fetch every object of the backup into a staging directory next to the data directory, checking each sha256;
3. extract into a new directory beside the data directory and run pg_verifybackup against the manifest;
4. write recovery.signal and the recovery_target_* settings (recovery_target_action = promote);
   only now: stop the server, rename the data directory aside (never deleted), rename the new one into place;
5. start, then poll pg_is_in_recovery() until false while checking the postmaster is still alive: since
   PostgreSQL 13 an unreachable target makes the server FATAL and exit after pg_ctl -w has already returned;
6. verify: promoted on a new timeline, the log says where recovery stopped, and a WAL switch on the new timeline
   reaches the archive (archiving continues). The recovery_target_* settings are then reset.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup import tar_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.restore_point import (
    flush_wal,
    wait_archived,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    connect,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    describe_server as describe,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import (
    PgRestorePlan,
    PgTargetSpec,
    plan_restore,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.wal_verification import (
    verify_restore_wal,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.cluster_owner import ClusterOwner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver import PREFETCH_DIR
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.position import (
    format_lsn,
    parse_history,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.progress_file import ProgressFile
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    ChecksumMismatch,
    ObjectMissing,
    Repository,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog

RECOVERY_KEYS = ("recovery_target_name", "recovery_target_time", "recovery_target_lsn", "recovery_target_action",
                 "recovery_target_inclusive", "recovery_target_timeline")
ARCHIVE_SETTINGS = ("archive_mode", "archive_command", "restore_command")
STOP_LINE = re.compile(r"recovery stopping [^\n]*|recovery stopped [^\n]*")
FATAL_LINE = re.compile(r"(FATAL|PANIC):[^\n]*")


@dataclass(frozen=True)
class PgRestoreRequest:
    repo: Repository
    postgres_dsn: str
    target: PgTargetSpec
    cluster: ClusterOnHost
    restore_command: str | None = None
    timeout: float = 1800.0
    flush_before: bool = True
    verify_archiving: bool = True
    archive_wait: float = 120.0
    check_mode: bool = False
    # Where the restore records how far it got (progress/progress_file.py), for a poller on this host; None: not.
    progress_file: str | None = None


@dataclass
class PgRestoreResult:
    changed: bool
    plan: dict[str, Any]
    backup_id: str
    recovered_to: dict[str, Any] = field(default_factory=dict)
    moved_aside: str | None = None
    timeline: int | None = None
    verified: bool = False
    duration_ms: int = 0
    steps: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def read_auto_conf(path: Path) -> dict[str, str]:
    """Settings in a postgresql.auto.conf (last occurrence wins), unquoted."""
    settings: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return settings
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        value = value.strip()
        if value.startswith("'") and value.endswith("'") and len(value) >= 2:
            value = value[1:-1].replace("''", "'").replace("\\\\", "\\")
        settings[key.strip()] = value
    return settings


def derive_restore_command(archive_command: str | None) -> str | None:
    """Our archiver's archive_command '... push %p %f' has the restore_command '... fetch %f %p'."""
    if archive_command and archive_command.rstrip().endswith(" push %p %f"):
        return archive_command.rstrip()[: -len(" push %p %f")] + " fetch %f %p"
    return None


def plan_pg_restore(repo: Repository, catalog: Catalog, spec: PgTargetSpec, steps: list[str]) -> PgRestorePlan:
    """The base backup and WAL range that reach spec, with every WAL file read and checked; touches nothing."""
    plan = plan_restore(repo, catalog, spec.resolve(catalog), backup_id=spec.backup_id,
                        timeline_override=spec.timeline)
    checked = verify_restore_wal(repo, plan)
    steps.append(f"checked the {checked} archived WAL file(s) recovery needs ({plan.required_first} to "
                 f"{plan.required_last}): present, full size, sha256 verified")
    return plan


class PgRestore:
    def __init__(self, request: PgRestoreRequest) -> None:
        # The one check of pgdata: every PostgreSQL restore (restore job, restore_postgres) is built here.
        if not request.cluster.pgdata:
            raise RestoreError("pgdata is required to restore PostgreSQL (the data directory on this host)")
        self.req = request
        given = Path(request.cluster.pgdata)
        self.pgdata = given.resolve() if given.exists() else given
        self.control = request.cluster.control(str(self.pgdata))
        self.owner = self.control.owner
        self.binaries = self.control.binaries
        self.catalog = Catalog(request.repo)
        self.restore_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.steps: list[str] = []
        self.queries: list[str] = []
        self.warnings: list[str] = []
        self.progress = ProgressFile(request.progress_file)

    # ------------------------------------------------------------------------------------------- preparation
    def _live_settings(self) -> dict[str, str]:
        """archive/restore settings of the running server (or of the current data directory's auto.conf)."""
        if self.control.is_running():
            try:
                with connect(self.req.postgres_dsn) as conn:
                    row = conn.execute("select current_setting('archive_mode'), current_setting('archive_command'),"
                                       " current_setting('restore_command')").fetchone()
                    return dict(zip(ARCHIVE_SETTINGS, row, strict=True))
            except DbopsError as exc:
                self.warnings.append(f"could not read the running server's archive settings: {exc}")
        return {k: v for k, v in read_auto_conf(self.pgdata / "postgresql.auto.conf").items() if k in ARCHIVE_SETTINGS}

    def _flush(self) -> None:
        if not (self.req.flush_before and self.control.is_running()):
            return
        try:
            with connect(self.req.postgres_dsn) as conn:
                if conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                    return
                wal_file = flush_wal(conn, self.req.repo, wait_timeout=self.req.archive_wait, queries=self.queries)
                self.steps.append(f"flushed WAL up to {wal_file} into the archive")
        except DbopsError as exc:
            # A server too broken to answer is exactly when restores happen; the plan decides if the archive suffices.
            self.warnings.append(f"could not flush the current WAL to the archive before restoring: {exc}")

    def plan(self) -> PgRestorePlan:
        """The plan, with every WAL file it needs read and checked: nothing is stopped before this returns."""
        return plan_pg_restore(self.req.repo, self.catalog, self.req.target, self.steps)

    def _preflight(self, plan: PgRestorePlan) -> None:
        parent = self.pgdata.parent
        if not parent.is_dir():
            raise RestoreError(f"the parent directory of pgdata {self.pgdata} does not exist; nothing was touched")
        if self.pgdata.exists() and os.path.ismount(self.pgdata):
            raise RestoreError(f"pgdata {self.pgdata} is a mount point and cannot be moved aside; use a "
                               "subdirectory of the mount as the data directory. Nothing was touched")
        extra = [o["key"] for o in plan.backup.objects
                 if not Path(o["key"]).name.startswith(("base.tar", "pg_wal.tar", "backup_manifest"))]
        if extra:
            raise RestoreError(f"base backup {plan.backup.backup_id} has tablespace archives ({', '.join(extra)}), "
                               "which this restore does not map; nothing was touched")
        need = int(plan.backup.details.get("data_bytes", 0)) + plan.backup.size_bytes
        free = shutil.disk_usage(parent).free
        if need and free < need:
            raise RestoreError(f"not enough space beside {self.pgdata}: the restore needs about {need} bytes, "
                               f"{free} are free; nothing was touched")

    def _fetch(self, plan: PgRestorePlan, staging: Path) -> dict[str, Path]:
        fetched: dict[str, Path] = {}
        for item in plan.backup.objects:
            name = Path(item["key"]).name
            try:
                info = self.req.repo.get_file(item["key"], staging / name)
            except ChecksumMismatch as exc:
                raise RestoreError(f"base backup {plan.backup.backup_id} is corrupted: {exc.message}. Nothing was "
                                   "touched") from exc
            except ObjectMissing as exc:
                raise RestoreError(f"base backup {plan.backup.backup_id} is incomplete: {exc.message}. Nothing "
                                   "was touched") from exc
            if info.sha256 != item["sha256"]:
                raise RestoreError(f"base backup {plan.backup.backup_id} is corrupted: {item['key']} has sha256 "
                                   f"{info.sha256}, the catalog recorded {item['sha256']}. Nothing was touched")
            fetched[name] = staging / name
        self.steps.append(f"fetched and checked {len(fetched)} objects of base backup {plan.backup.backup_id}")
        return fetched

    def _lay_down(self, plan: PgRestorePlan, fetched: dict[str, Path], new_dir: Path) -> None:
        new_dir.mkdir(mode=0o700)
        for name, path in sorted(fetched.items()):
            if name.startswith("base.tar"):
                tar_archive.extract(path, new_dir)
        (new_dir / "pg_wal").mkdir(mode=0o700, exist_ok=True)
        for name, path in sorted(fetched.items()):
            if name.startswith("pg_wal.tar"):
                tar_archive.extract(path, new_dir / "pg_wal")
        try:
            # As the invoking user: the staging directory is private to it.
            ClusterOwner(None).run([self.binaries.path("pg_verifybackup"), "--quiet", "-m",
                                    str(fetched["backup_manifest"]), str(new_dir)], what="pg_verifybackup")
        except DbopsError as exc:
            raise RestoreError(f"base backup {plan.backup.backup_id} failed pg_verifybackup: {exc.message}. Nothing "
                               "was touched") from exc
        self.steps.append("extracted the base backup beside the data directory and verified it with pg_verifybackup")

    def _configure(self, plan: PgRestorePlan, new_dir: Path, live: dict[str, str]) -> dict[str, str]:
        backup_conf = read_auto_conf(new_dir / "postgresql.auto.conf")
        restore_command = (self.req.restore_command or live.get("restore_command")
                           or derive_restore_command(live.get("archive_command"))
                           or backup_conf.get("restore_command")
                           or derive_restore_command(backup_conf.get("archive_command")))
        if not restore_command:
            raise RestoreError("no restore_command known: configure archiving with the wal_archiving role or pass "
                               "restore_command; nothing was touched")
        settings = dict(plan.settings)
        settings["restore_command"] = restore_command
        # Archiving must carry on after promotion, on the new timeline, with the settings in force now.
        for key in ("archive_mode", "archive_command"):
            if live.get(key) and live[key] != backup_conf.get(key):
                settings[key] = live[key]
        lines = ["", f"# dbops point-in-time restore {self.restore_id} ({to_iso(utc_now())})"]
        lines += [f"{key} = {_conf_value(value)}" for key, value in settings.items()]
        with open(new_dir / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        (new_dir / "recovery.signal").write_text("")
        for stale in ("postmaster.pid", "postmaster.opts"):
            (new_dir / stale).unlink(missing_ok=True)
        self.owner.chown_tree(new_dir)
        return settings

    # ----------------------------------------------------------------------------------------------- execution
    def _swap(self, new_dir: Path) -> str | None:
        was_running = self.control.stop()
        if was_running:
            self.steps.append("stopped PostgreSQL")
        aside = None
        if self.pgdata.exists():
            aside_path = self.pgdata.with_name(f"{self.pgdata.name}.dbops-before-restore-{self.restore_id}")
            os.rename(self.pgdata, aside_path)
            aside = str(aside_path)
            self.steps.append(f"moved the data directory aside to {aside} (kept; remove it once satisfied)")
        os.rename(new_dir, self.pgdata)
        self.steps.append(f"laid down the base backup in {self.pgdata}")
        return aside

    def _log_file(self, previous: str | None) -> str:
        if self.req.cluster.log_file:
            path = Path(self.req.cluster.log_file)
        elif previous:
            path = Path(previous)
        else:
            return self.control.default_log_file(f"restore-{self.restore_id}")
        if not path.exists():
            path.touch(mode=0o640)
            self.owner.chown_tree(path)
        return str(path)

    def _wait_promoted(self, log_file: str, log_offset: int, plan: PgRestorePlan) -> None:
        started = time.monotonic()
        deadline = started + self.req.timeout
        last_error = ""
        seen_running = False
        while True:
            running = self.control.is_running()
            seen_running = seen_running or running
            log = _read_from(log_file, log_offset) if not running else ""
            # pg_ctl -W returns before postmaster.pid exists: a server not yet seen is only dead once it says so.
            if not running and (seen_running or FATAL_LINE.search(log) or time.monotonic() - started > 30):
                time.sleep(0.3)  # let the last log lines land
                log = _read_from(log_file, log_offset)
                fatal = list(dict.fromkeys(match.group(0) for match in FATAL_LINE.finditer(log)))
                detail = "; ".join(fatal) or "no FATAL line in the log"
                raise RestoreError(
                    f"PostgreSQL stopped during recovery to {plan.target.describe()} from base backup "
                    f"{plan.backup.backup_id}: {detail} (log: {log_file}). The previous data directory is "
                    "kept beside the data directory"
                )
            try:
                with connect(self.req.postgres_dsn, connect_timeout=3) as conn:
                    if not conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                        return
            except DbopsError as exc:
                last_error = str(exc)
            if time.monotonic() >= deadline:
                raise RestoreError(f"recovery to {plan.target.describe()} did not finish within "
                                   f"{self.req.timeout:.0f}s ({last_error or 'still in recovery'}); log: {log_file}")
            time.sleep(0.3)

    def _verify(self, plan: PgRestorePlan, log_file: str, log_offset: int, result: PgRestoreResult) -> None:
        with connect(self.req.postgres_dsn) as conn:
            wal_file = conn.execute("select pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
            result.timeline = int(wal_file[:8], 16)
            stop_lines = STOP_LINE.findall(_read_from(log_file, log_offset))
            result.recovered_to = {"target": plan.target.describe(), "kind": plan.target.kind,
                                   "value": plan.target.value, "backup_id": plan.backup.backup_id,
                                   "timeline": result.timeline, "log": stop_lines[:2]}
            history = self.pgdata / "pg_wal" / f"{result.timeline:08X}.history"
            switches = parse_history(history.read_text()) if history.exists() else []
            if switches:
                result.recovered_to["lsn"] = format_lsn(switches[-1].switch_lsn)
            replayed = conn.execute("select pg_last_xact_replay_timestamp()").fetchone()[0]
            result.recovered_to["last_replayed_commit_time"] = to_iso(replayed) if replayed else None
            reached = bool(stop_lines)
            if plan.target.kind == "name":
                reached = any(plan.target.internal_name and plan.target.internal_name in line
                              for line in stop_lines)
            if not reached:
                self.warnings.append("the server log does not say where recovery stopped (is logging_collector on?)"
                                     if not stop_lines else f"recovery stopped elsewhere than expected: {stop_lines}")
            # The targets must not steer a later recovery of this cluster (restore_command stays, for standbys).
            # They only take effect at a restart, so no reload: it would just log "cannot be changed" lines.
            for key in RECOVERY_KEYS:
                statement = f"alter system reset {key}"
                conn.execute(statement)
                self.queries.append(statement)
            archiving = True
            if self.req.verify_archiving:
                switched = conn.execute("select pg_walfile_name(pg_current_wal_insert_lsn()), "
                                        "pg_switch_wal()").fetchone()[0]
                try:
                    wait_archived(conn, self.req.repo, switched, self.req.archive_wait)
                    self.steps.append(f"archiving continues on timeline {result.timeline} ({switched} archived)")
                except DbopsError as exc:
                    archiving = False
                    self.warnings.append(f"archiving on the new timeline is not working yet: {exc}")
            result.verified = result.timeline > int(plan.backup.details.get("timeline", 1)) and \
                (reached or not stop_lines) and archiving

    def run(self, plan: PgRestorePlan | None = None) -> PgRestoreResult:
        """plan: one made already by plan_pg_restore (its WAL checked), so it is not made and checked again."""
        clock = time.monotonic()
        live = self._live_settings()
        if not self.req.check_mode:
            self._flush()
        plan = plan if plan is not None else self.plan()
        self._preflight(plan)
        # In check mode too: a restore would change the cluster (check mode reports what would change).
        result = PgRestoreResult(changed=True, plan=plan.as_dict(),
                                 backup_id=plan.backup.backup_id, steps=self.steps, queries=self.queries,
                                 warnings=self.warnings)
        if self.req.check_mode:
            self.steps += [
                f"would fetch and check {len(plan.backup.objects)} objects of base backup {plan.backup.backup_id}",
                "would extract them beside the data directory and run pg_verifybackup",
                f"would stop PostgreSQL, move {self.pgdata} aside and put the backup in its place",
                f"would start recovery to {plan.target.describe()} with recovery_target_action = promote",
            ]
            result.duration_ms = int((time.monotonic() - clock) * 1000)
            return result

        staging = self.pgdata.with_name(f".{self.pgdata.name}.dbops-staging-{self.restore_id}")
        new_dir = self.pgdata.with_name(f".{self.pgdata.name}.dbops-new-{self.restore_id}")
        staging.mkdir(mode=0o700)
        # The download's files grow in the staging directory: its size is the bytes fetched so far.
        size = sum(int(item.get("size") or 0) for item in plan.backup.objects)
        progress = ProgressRecord(kind="restore", name=f"postgres {plan.backup.backup_id}", unit="bytes", done=0,
                                  total=size or None, detail="fetching the base backup", started_at=to_iso(utc_now()),
                                  updated_at=to_iso(utc_now()))
        self.progress.put(progress, watch_dir=str(staging))
        try:
            fetched = self._fetch(plan, staging)
            progress = replace(progress, done=size, detail="extracting and verifying the base backup",
                               updated_at=to_iso(utc_now()))
            self.progress.put(progress)
            try:
                self._lay_down(plan, fetched, new_dir)
                self._configure(plan, new_dir, live)
            except BaseException:
                shutil.rmtree(new_dir, ignore_errors=True)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        previous_log = self.control.current_log_file()
        result.moved_aside = self._swap(new_dir)
        log_file = self._log_file(previous_log)
        log_offset = Path(log_file).stat().st_size
        self.control.start(log_file, timeout=int(self.req.timeout), wait=False)
        self.steps.append(f"started PostgreSQL in recovery (log: {log_file})")
        self.progress.put(replace(progress, detail=f"recovering to {plan.target.describe()}"))
        self._wait_promoted(log_file, log_offset, plan)
        self.progress.put(replace(progress, status="done", detail="recovered and promoted",
                                  updated_at=to_iso(utc_now())))
        # The archiver's read-ahead of WAL segments is of no use once recovery has ended.
        shutil.rmtree(self.pgdata / "pg_wal" / PREFETCH_DIR, ignore_errors=True)
        self.steps.append("recovery reached the target and the server was promoted")
        self._verify(plan, log_file, log_offset, result)
        result.duration_ms = int((time.monotonic() - clock) * 1000)
        return result


def _read_from(path: str, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def restore_postgres(request: PgRestoreRequest) -> PgRestoreResult:
    """Plan (and unless check_mode, carry out) a point-in-time restore. Raises RestoreError before touching
    anything when the target, the backup or the archive make it impossible."""
    if not request.postgres_dsn:
        raise RestoreError("postgres_dsn is needed to follow the recovery and verify it")
    try:
        return PgRestore(request).run()
    except RestoreError:
        raise
    except DbopsError as exc:
        raise RestoreError(f"restore of {describe(request.postgres_dsn)} failed: {exc}") from exc
