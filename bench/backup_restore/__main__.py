"""Backup and point-in-time restore: sevenp.dbops against pgBackRest on the same cluster, in one run.

    .venv/bin/python -m bench.backup_restore [--scale 70] [--wal-mb 500] [--only pgbackrest|dbops]

A `pgbench -i -s 70` database (about 1 GB) archives its WAL to both tools' repositories; each tool takes a full
backup (timed); pgbench then writes about 500 MB of WAL; a named restore point is created and archived; the source
is stopped; each tool restores a new data directory to the named point (timed until the server answers
pg_is_in_recovery() = false). Clusters run as the OS user DBOPS_PG_OS_USER under a temp dir that is removed at the
end (--keep keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.support.repo_paths import RESULTS_DIR, use_collection_imports

use_collection_imports()

from bench.backup_restore import workload  # noqa: E402
from bench.backup_restore.pgbackrest_contender import PgBackRest  # noqa: E402
from bench.backup_restore.promotion import wait_promoted  # noqa: E402
from bench.backup_restore.server_log import read_recovery_log  # noqa: E402
from bench.support import machine, results_table  # noqa: E402
from bench.support.external_tools import ensure_debian_packages  # noqa: E402
from tests.support.pg_cluster import PgCluster, as_pg_user, chown_to_pg_user  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

TARGET_BACKUP_RATIO = 0.6
TARGET_RESTORE_RATIO = 1.0


@dataclass
class Measured:
    name: str
    version: str = ""
    backup_s: float | None = None
    backup_bytes: int | None = None
    restore_s: float | None = None
    # Part of restore_s spent before the server was started (files laid down, recovery configured), when the
    # contender's restore returns before starting the server.
    restore_files_s: float | None = None
    # Every round's seconds; the *_s figures above are their medians.
    backup_runs: list[float] = field(default_factory=list)
    restore_runs: list[float] = field(default_factory=list)
    restore_files_runs: list[float] = field(default_factory=list)
    # The restored server's own account of each recovery (server_log.py).
    recovery_logs: list[str] = field(default_factory=list)
    # restore_command alone, per 16 MiB segment (median of the fetches, measure_fetch()).
    fetch_s: float | None = None
    fetch_runs: list[float] = field(default_factory=list)
    # sevenp.dbops only: the same backup without its pg_verifybackup step (verify: false), per round.
    backup_unverified_runs: list[float] = field(default_factory=list)
    rows_after_restore: int | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    # Per engine step (label, calls, seconds), for contenders that report it.
    phases: dict[str, list] = field(default_factory=dict)


def _contenders(args: argparse.Namespace, work_dir: Path, source: PgCluster) -> list:
    chosen = []
    if args.only in (None, "dbops"):
        from bench.backup_restore.dbops_contender import Dbops

        chosen.append(Dbops(work_dir, source))
    if args.only in (None, "pgbackrest"):
        chosen.append(PgBackRest(work_dir, source))
    return chosen


def measure_fetch(contenders: list, results: dict, work_dir: Path, count: int = 12) -> None:
    """The restore_command alone: each contender fetches the same archived segments (interleaved), as the cluster's
    OS user, into a scratch directory. Recovery calls it once per segment, serially with replay."""
    source_of_names = next((c for c in contenders if hasattr(c, "archived_segments")), None)
    if source_of_names is None:
        return
    segments = source_of_names.archived_segments()[-count - 2:-2]
    scratch = work_dir / "fetch-scratch"
    scratch.mkdir()
    chown_to_pg_user(scratch)
    for segment in segments:
        for contender in contenders:
            destination = scratch / f"{contender.name}-{segment}"
            t0 = time.monotonic()
            done = subprocess.run(as_pg_user(contender.fetch_command(segment, str(destination))),
                                  capture_output=True, text=True, check=False)
            elapsed = time.monotonic() - t0
            if done.returncode != 0:
                results[contender.name].notes.append(f"fetch of {segment} failed: {done.stderr.strip()[:300]}")
                continue
            results[contender.name].fetch_runs.append(elapsed)
            destination.unlink(missing_ok=True)
    for contender in contenders:
        runs = results[contender.name].fetch_runs
        if runs:
            results[contender.name].fetch_s = statistics.median(runs)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(args: argparse.Namespace) -> dict:
    ensure_debian_packages(["pgbackrest"])
    work_dir = Path(tempfile.mkdtemp(prefix="dbops-bench-br-"))
    chown_to_pg_user(work_dir)
    port = free_port()
    source = workload.new_source(work_dir, port)
    contenders = _contenders(args, work_dir, source.cluster)
    results = {c.name: Measured(name=c.name) for c in contenders}
    facts: dict[str, object] = {"scale": args.scale, "wal_target_mb": args.wal_mb, "repeat": args.repeat,
                                "machine": machine.describe()}
    try:
        for contender in contenders:
            contender.prepare()
            results[contender.name].version = contender.version()
        workload.write_archive_script(work_dir, [c.archive_command() for c in contenders])
        source.cluster.start()
        for contender in contenders:
            contender.after_start()
        _log(f"pgbench -i -s {args.scale}")
        t0 = time.monotonic()
        workload.pgbench_init(source, args.scale)
        facts["database_bytes"] = int(source.query("SELECT pg_database_size('postgres')"))  # type: ignore[arg-type]
        facts["pgbench_init_s"] = round(time.monotonic() - t0, 1)
        _log(f"database is {facts['database_bytes'] / 2**20:.0f} MiB")

        # Rounds interleave the contenders, so that load from elsewhere on the machine hits both alike.
        for round_no in range(1, args.repeat + 1):
            for contender in contenders:
                measured = results[contender.name]
                _log(f"{contender.name}: full backup (round {round_no}/{args.repeat})")
                t0 = time.monotonic()
                contender.backup()
                measured.backup_runs.append(time.monotonic() - t0)
                measured.backup_s = statistics.median(measured.backup_runs)
                measured.backup_bytes = contender.repository_bytes()
                _log(f"{contender.name}: backup took {measured.backup_runs[-1]:.2f}s")
                if hasattr(contender, "backup_unverified"):
                    # Where the time goes: the same backup without its verification step.
                    t0 = time.monotonic()
                    contender.backup_unverified()
                    measured.backup_unverified_runs.append(time.monotonic() - t0)
                    _log(f"{contender.name}: backup with verify=false took {measured.backup_unverified_runs[-1]:.2f}s")

        start_lsn = workload.current_lsn(source)
        _log(f"pgbench until {args.wal_mb} MB of WAL after the backups")
        t0 = time.monotonic()
        facts["wal_bytes_after_backup"] = workload.write_wal(source, start_lsn, args.wal_mb * 1_000_000)
        facts["pgbench_run_s"] = round(time.monotonic() - t0, 1)
        expected_rows = source.query("SELECT count(*) FROM pgbench_history")
        point = f"bench_{uuid.uuid4().hex[:12]}"
        creator = next((c for c in contenders if hasattr(c, "create_point")), None)
        if creator is not None:
            # One restore point for everybody: the collection's recovery_point engine writes a unique name into
            # WAL (and its catalog); pgBackRest is given that same WAL name as its target.
            point_lsn, wal_name = creator.create_point(point)
            segment = workload.segment_of(source, point_lsn)
        else:
            point_lsn, segment = workload.create_restore_point(source, point)
            wal_name = point
        # Written after the point: a restore that overshoots it shows up as a different row count.
        source.query("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())")
        facts.update(point=point, point_wal_name=wal_name, point_lsn=point_lsn, rows_at_point=expected_rows)
        _log(f"restore point {point} ({wal_name}) at {point_lsn}; waiting for {segment} to be archived")
        workload.wait_archived(source, segment)
        source.cluster.stop()
        workload.freeze_archiving(work_dir)

        measure_fetch(contenders, results, work_dir)
        for round_no in range(1, args.repeat + 1):
            for contender in contenders:
                measured = results[contender.name]
                if measured.error:
                    continue
                target = PgCluster(base_dir=work_dir / f"restore-{contender.name.lower().replace('.', '-')}-{round_no}",
                                   port=port)
                target.base_dir.mkdir(parents=True)
                chown_to_pg_user(target.base_dir)
                _log(f"{contender.name}: restore to {point} (round {round_no}/{args.repeat})")
                try:
                    t0 = time.monotonic()
                    files_s = contender.restore(target, point if hasattr(contender, "create_point") else wal_name)
                    wait_promoted(target)
                    measured.restore_runs.append(time.monotonic() - t0)
                    measured.restore_s = statistics.median(measured.restore_runs)
                    if files_s is not None:
                        measured.restore_files_runs.append(files_s)
                        measured.restore_files_s = statistics.median(measured.restore_files_runs)
                    measured.recovery_logs.append(read_recovery_log(target.logfile).describe())
                    measured.rows_after_restore = int(target.psql("SELECT count(*) FROM pgbench_history"))
                    if measured.rows_after_restore != expected_rows:
                        measured.error = (f"restored {measured.rows_after_restore} history rows, "
                                          f"expected {expected_rows}")
                    _log(f"{contender.name}: restore took {measured.restore_runs[-1]:.2f}s")
                except Exception as exc:  # noqa: BLE001 - reported in the table, the other contender still runs
                    measured.error = str(exc)[:2000]
                    _log(f"{contender.name}: restore FAILED: {exc}")
                finally:
                    target.stop(mode="immediate")
                    if not args.keep:
                        shutil.rmtree(target.base_dir, ignore_errors=True)
        for contender in contenders:
            results[contender.name].notes.extend(getattr(contender, "notes", []))
            results[contender.name].phases = dict(getattr(contender, "phases", {}))
    finally:
        source.cluster.stop(mode="immediate")
        if args.keep:
            print(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return {"facts": facts, "results": [asdict(m) for m in results.values()]}


def render(report: dict) -> str:
    results = {r["name"]: r for r in report["results"]}
    ours = results.get("sevenp.dbops", {})
    ref = results.get("pgBackRest", {})

    def compared(label: str, mine: float | None, theirs: float | None, target: float | None) -> list[str]:
        verdict = "-"
        if target is not None and mine is not None and theirs:
            verdict = "met" if mine / theirs <= target else "MISSED"
        return [label, results_table.seconds(mine), results_table.seconds(theirs), results_table.ratio(mine, theirs),
                f"<= {target:.1f}x" if target is not None else "-", verdict]

    unverified = statistics.median(ours["backup_unverified_runs"]) if ours.get("backup_unverified_runs") else None
    rows = [compared("full backup (s)", ours.get("backup_s"), ref.get("backup_s"), TARGET_BACKUP_RATIO)]
    if unverified is not None:
        rows.append(compared("  same, with verify: false (s)", unverified, ref.get("backup_s"), TARGET_BACKUP_RATIO))
    rows.append(compared("PITR restore to named point, until promoted (s)", ours.get("restore_s"),
                         ref.get("restore_s"), TARGET_RESTORE_RATIO))
    rows.append(compared("  of which files laid down before start (s)", ours.get("restore_files_s"),
                         ref.get("restore_files_s"), None))
    rows.append(compared("restore_command, one 16 MiB WAL segment (s)", ours.get("fetch_s"), ref.get("fetch_s"),
                         None))
    size_row = ["backup size in repository (MiB)"]
    for entry in (ours, ref):
        size_row.append("-" if entry.get("backup_bytes") is None else f"{entry['backup_bytes'] / 2**20:.0f}")
    rows.append([*size_row, "-", "-", "-"])
    facts = report["facts"]
    lines = [
        f"backup/restore benchmark: pgbench scale {facts['scale']} "
        f"({facts.get('database_bytes', 0) / 2**20:.0f} MiB), "
        f"{facts.get('wal_bytes_after_backup', 0) / 2**20:.0f} MiB of WAL after the backups, "
        f"restore to named point {facts.get('point', '-')}; median of {facts.get('repeat', 1)} round(s)",
        facts["machine"] + "; " + machine.load(),
        results_table.render(["", "sevenp.dbops", "pgBackRest", "ratio", "target", "verdict"], rows),
    ]
    for entry in report["results"]:
        if entry.get("version"):
            lines.append(f"{entry['name']}: {entry['version']}")
        if entry.get("error"):
            lines.append(f"{entry['name']} ERROR: {entry['error']}")
        runs = [f"backup {', '.join(f'{x:.2f}' for x in entry.get('backup_runs', []))}",
                f"restore {', '.join(f'{x:.2f}' for x in entry.get('restore_runs', []))}"]
        lines.append(f"{entry['name']} rounds (s): {'; '.join(runs)}")
        for text in entry.get("recovery_logs", []):
            lines.append(f"{entry['name']} restored server log: {text}")
        for note in entry.get("notes", []):
            lines.append(f"{entry['name']}: {note}")
        for operation, rows in (entry.get("phases") or {}).items():
            lines.append(f"{entry['name']} {operation}, seconds per engine step (nested steps counted in both):")
            lines.extend(f"  {secs:7.2f}  {label} (x{calls})" for label, calls, secs in rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=70, help="pgbench scale factor (70 = about 1 GB)")
    parser.add_argument("--wal-mb", type=int, default=500, help="MB of WAL to write after the base backups")
    parser.add_argument("--only", choices=["dbops", "pgbackrest"], help="run one contender only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="backups and restores per contender, interleaved; seconds are the medians (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with clusters and repositories")
    args = parser.parse_args(argv)
    if os.geteuid() == 0:
        os.umask(0o022)
    report = run(args)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"backup_restore-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(render(report))
    return 1 if any(r["error"] for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
