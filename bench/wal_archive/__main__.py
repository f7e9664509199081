"""WAL archiving to S3 (moto on this machine): the long-lived uploader against one process per segment.

    .venv/bin/python -m bench.wal_archive [--segments 40] [--duration 300] [--clients 8] [--scale 20]
                                          [--workers 4] [--only uploader|per-segment] [--fetch-segments 12]

For each contender, on a fresh cluster and bucket:
1. drain rate: --segments segments are made ready while archive_command fails (`false`), then the contender's
   archive_command is set and reloaded; segments per second until PostgreSQL has none left to archive;
2. behind under load: `pgbench -i` (scale --scale), and once its own burst of WAL is archived (how many segments it
   left and how long they took are reported), `pgbench -c <clients>` for --duration seconds (default 5 minutes),
   sampling every 0.2 s how many finished segments are not archived yet (pg_wal/archive_status/*.ready); worst
   and mean;
3. restore_command: --fetch-segments archived segments fetched one after the other into a pg_wal directory as
   PostgreSQL's recovery calls it, with the prefetch on (default) and off; seconds per segment.
Clusters run as the OS user DBOPS_PG_OS_USER; everything is removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.support.repo_paths import RESULTS_DIR, use_collection_imports

use_collection_imports()

from bench.support import machine, results_table  # noqa: E402
from bench.wal_archive.contenders import ArchiverContender, contenders  # noqa: E402
from tests.support.archive_lag import pgbench, pgbench_under_watch, segments_behind  # noqa: E402
from tests.support.pg_cluster import PgCluster, as_pg_user, chown_to_pg_user, new_cluster  # noqa: E402
from tests.support.s3_server import new_s3_server  # noqa: E402
from tests.support.wal_archiver import install_archiver  # noqa: E402

TARGET_SEGMENTS_PER_SECOND = 8.0
TARGET_WORST_BEHIND = 1


@dataclass
class Measured:
    name: str
    drain_segments: int = 0
    drain_s: float | None = None
    load_seconds: int = 0
    load_wal_segments_per_s: float | None = None
    behind_worst: int | None = None
    behind_mean: float | None = None
    behind_over_share: float | None = None  # fraction of the load's samples more than the target behind
    behind_over_longest_s: float | None = None  # the longest stretch of them, seconds
    behind_samples: list[int] = field(default_factory=list)  # every 0.2 s, for the timeline
    init_backlog: int | None = None  # segments pgbench -i left unarchived when it ended (before the sampling)
    init_backlog_s: float | None = None  # seconds until they were archived
    fetch_prefetch_s: float | None = None
    fetch_direct_s: float | None = None
    error: str = ""

    @property
    def segments_per_s(self) -> float | None:
        return self.drain_segments / self.drain_s if self.drain_s else None


@dataclass
class Report:
    machine: str
    args: dict
    results: list[Measured] = field(default_factory=list)
    # moto's own pace: plain HTTP PUTs of 16 MiB, --workers at a time, no client library (what no archiver beats).
    moto_puts_per_s: float | None = None


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # pylint: disable=ansible-bad-function


def _execute(cluster: PgCluster, statement: str) -> None:
    cluster.psql(statement)


def _set_archive_command(cluster: PgCluster, command: str) -> None:
    quoted = command.replace("'", "''")
    cluster.psql(f"ALTER SYSTEM SET archive_command = '{quoted}'")
    cluster.psql("SELECT pg_reload_conf()")


def _switch(cluster: PgCluster) -> None:
    # A switch on an empty segment is a no-op: write a little first.
    cluster.psql("INSERT INTO filler VALUES (1); SELECT pg_switch_wal();")


def _wait_until_archived(cluster: PgCluster, what: str, timeout_s: float = 900) -> None:
    """Until PostgreSQL has no finished segment left to archive."""
    deadline = time.monotonic() + timeout_s
    while segments_behind(cluster.datadir):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {segments_behind(cluster.datadir)} segments still not archived after "
                               f"{timeout_s:.0f} s")
        time.sleep(0.02)


def measure_drain(cluster: PgCluster, command: str, segments: int, measured: Measured) -> None:
    _set_archive_command(cluster, "false")
    for _segment in range(segments):
        _switch(cluster)
    deadline = time.monotonic() + 60
    while segments_behind(cluster.datadir) < segments and time.monotonic() < deadline:
        time.sleep(0.1)
    ready = segments_behind(cluster.datadir)
    _log(f"{measured.name}: {ready} segments ready, archiving them")
    t0 = time.monotonic()
    _set_archive_command(cluster, command)
    _switch(cluster)  # wakes the archiver process, which waits out its failures otherwise
    _wait_until_archived(cluster, "the drained segments")
    measured.drain_s = time.monotonic() - t0
    measured.drain_segments = ready + 1
    _log(f"{measured.name}: {measured.drain_segments} segments in {measured.drain_s:.2f} s")


def measure_load(cluster: PgCluster, args: argparse.Namespace, measured: Measured) -> None:
    dsn = cluster.dsn()
    pgbench(dsn, "-i", "-q", "-s", str(args.scale))
    # pgbench -i writes its tables in a burst of WAL that every archiver is behind on while it lasts; the target
    # is about the load, so sampling starts once that is archived.
    t0 = time.monotonic()
    measured.init_backlog = segments_behind(cluster.datadir)
    _wait_until_archived(cluster, "pgbench -i's WAL")
    measured.init_backlog_s = time.monotonic() - t0
    _log(f"{measured.name}: pgbench -i left {measured.init_backlog} segments to archive, archived in "
         f"{measured.init_backlog_s:.2f} s")
    _log(f"{measured.name}: pgbench -c {args.clients} for {args.duration} s")
    sampler, produced = pgbench_under_watch(dsn, cluster.datadir, clients=args.clients, seconds=args.duration)
    measured.load_seconds = args.duration
    measured.load_wal_segments_per_s = produced
    measured.behind_worst = sampler.worst
    measured.behind_mean = sampler.mean
    measured.behind_over_share = sampler.share_above(TARGET_WORST_BEHIND)
    measured.behind_over_longest_s = sampler.longest_above(TARGET_WORST_BEHIND)
    measured.behind_samples = list(sampler.samples)
    _log(f"{measured.name}: WAL {produced:.2f} segments/s, behind worst {sampler.worst}, mean {sampler.mean:.2f}, "
         f"more than {TARGET_WORST_BEHIND} behind {measured.behind_over_share:.1%} of the time, "
         f"longest {measured.behind_over_longest_s:.1f} s")


def _archived_segments(cluster: PgCluster) -> list[str]:
    done = cluster.datadir / "pg_wal" / "archive_status"
    return sorted(name.removesuffix(".done") for name in (p.name for p in done.iterdir())
                  if name.endswith(".done") and len(name) == 24 + len(".done"))


def measure_fetch(contender: ArchiverContender, cluster: PgCluster, count: int, measured: Measured,
                  work_dir: Path) -> None:
    """restore_command as recovery calls it: one segment after the other into <data>/pg_wal/RECOVERYXLOG."""
    names = _archived_segments(cluster)
    # A run of consecutive segments on one timeline, as replay asks for them.
    names = names[-count - 1:-1] if len(names) > count else names
    config_path = contender.archiver.config_path(contender.config_name)
    base_config = json.loads(config_path.read_text())
    for prefetch, attribute in ((8, "fetch_prefetch_s"), (0, "fetch_direct_s")):
        contender.archiver.write_config({**base_config, "fetch_prefetch": prefetch}, contender.config_name)
        pg_wal = work_dir / f"fetch-{uuid.uuid4().hex[:6]}" / "pg_wal"
        pg_wal.mkdir(parents=True)
        chown_to_pg_user(pg_wal.parent)
        chown_to_pg_user(pg_wal)
        runs = []
        command = contender.restore_command()
        for name in names:
            target = pg_wal / "RECOVERYXLOG"
            # As PostgreSQL runs it: through the shell, with %f and %p replaced.
            line = command.replace("%f", name).replace("%p", str(target))
            t0 = time.monotonic()
            subprocess.run(as_pg_user(["sh", "-c", line]), check=True, capture_output=True)
            runs.append(time.monotonic() - t0)
            target.unlink()
        setattr(measured, attribute, statistics.median(runs))
        shutil.rmtree(pg_wal.parent, ignore_errors=True)
    contender.archiver.write_config(base_config, contender.config_name)
    _log(f"{measured.name}: restore_command {measured.fetch_prefetch_s:.3f} s/segment with prefetch, "
         f"{measured.fetch_direct_s:.3f} s without")


def measure_moto_ceiling(s3, workers: int, count: int = 16) -> float:
    bucket = "ceiling-" + uuid.uuid4().hex[:10]
    s3.client().create_bucket(Bucket=bucket)
    body = os.urandom(16 * 1024 * 1024)

    def put(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", s3.port, timeout=120)
        conn.request("PUT", f"/{bucket}/segment-{index}", body=body)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"moto answered {response.status} to a PUT")

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(put, range(count)))
    return count / (time.monotonic() - t0)


def run(args: argparse.Namespace) -> Report:
    report = Report(machine=machine.describe(), args=vars(args))
    work_dir = Path(tempfile.mkdtemp(prefix="dbops-bench-wal-"))
    chown_to_pg_user(work_dir)
    archiver = install_archiver()
    s3 = new_s3_server()
    try:
        report.moto_puts_per_s = measure_moto_ceiling(s3, args.workers)
        s3.reset()
        _log(f"moto: {report.moto_puts_per_s:.2f} plain 16 MiB PUTs/s with {args.workers} at a time")
        for contender in contenders(archiver, args.only, args.workers):
            measured = Measured(contender.name)
            report.results.append(measured)
            bucket = "bench-" + uuid.uuid4().hex[:10]
            s3.client().create_bucket(Bucket=bucket)
            cluster = new_cluster(extra_conf={"archive_mode": "on", "archive_command": "'false'",
                                              "max_wal_size": "'4GB'", "wal_keep_size": "'0'"})
            try:
                cluster.psql("CREATE TABLE filler (id int)")
                command = contender.prepare(s3.endpoint_url, bucket)
                measure_drain(cluster, command, args.segments, measured)
                if args.duration > 0:
                    measure_load(cluster, args, measured)
                if args.fetch_segments > 0:
                    measure_fetch(contender, cluster, args.fetch_segments, measured, work_dir)
            except Exception as exc:  # noqa: BLE001 - reported in the table, the other contender still runs
                measured.error = str(exc)[:2000]
                _log(f"{contender.name}: FAILED: {exc}")
            finally:
                contender.finish()
                cluster.destroy()
                s3.reset()  # moto keeps objects in memory
    finally:
        s3.stop()
        archiver.destroy()
        shutil.rmtree(work_dir, ignore_errors=True)
    return report


def render(report: Report) -> str:
    def number(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def verdict(met: bool | None) -> str:
        return "-" if met is None else ("met" if met else "MISSED")

    rows = []
    for measured in report.results:
        rate = measured.segments_per_s
        rows.append([
            measured.name, number(rate), f">= {TARGET_SEGMENTS_PER_SECOND:.0f}",
            verdict(None if rate is None else rate >= TARGET_SEGMENTS_PER_SECOND),
            "-" if measured.init_backlog is None else f"{measured.init_backlog} in {measured.init_backlog_s:.1f} s",
            number(measured.load_wal_segments_per_s), "-" if measured.behind_worst is None else str(
                measured.behind_worst), number(measured.behind_mean), f"<= {TARGET_WORST_BEHIND}",
            verdict(None if measured.behind_worst is None else measured.behind_worst <= TARGET_WORST_BEHIND),
            "-" if measured.behind_over_share is None else f"{measured.behind_over_share:.1%}",
            number(measured.behind_over_longest_s, 1), number(measured.fetch_prefetch_s, 3),
            number(measured.fetch_direct_s, 3), measured.error[:60] or "ok",
        ])
    args = report.args
    return "\n".join([
        f"WAL archiving to moto S3: drain of {args['segments']} ready segments; pgbench -c {args['clients']} "
        f"-s {args['scale']} for {args['duration']} s; restore_command over {args['fetch_segments']} segments",
        report.machine + "; " + machine.load(),
        f"moto's ceiling on this machine now: {number(report.moto_puts_per_s)} plain 16 MiB PUTs/s, "
        f"{args['workers']} at a time",
        results_table.render(["archiver", "segments/s", "target", "met/missed", "pgbench -i backlog",
                              "WAL written/s under load",
                              "behind worst", "behind mean", "target", "met/missed",
                              f"time > {TARGET_WORST_BEHIND} behind",
                              f"longest > {TARGET_WORST_BEHIND} behind, s", "fetch s/seg (prefetch)",
                              "fetch s/seg (none)", "status"],
                             rows),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.wal_archive", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--segments", type=int, default=40, help="ready segments drained per contender")
    parser.add_argument("--duration", type=int, default=300, help="seconds of pgbench load (0: skip)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="the uploader's uploads in flight")
    parser.add_argument("--fetch-segments", type=int, default=12)
    parser.add_argument("--only", choices=["uploader", "per-segment"])
    args = parser.parse_args()
    report = run(args)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"wal_archive-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(asdict(report), indent=2))
    print(render(report))  # pylint: disable=ansible-bad-function
    print(f"results: {out}")  # pylint: disable=ansible-bad-function
    return 1 if any(measured.error for measured in report.results) else 0


if __name__ == "__main__":
    sys.exit(main())
