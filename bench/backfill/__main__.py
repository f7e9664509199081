"""Benchmark: a batched backfill declared in migration.yml, run by sevenp.dbops' engine twice (a fixed batch
size, and batches sized by time with the engine's throttle), against one single UPDATE doing the same SET, each
with pgbench (small point reads and updates on the same table) running alongside, plus a bare psycopg keyset loop
as the floor of any batched backfill and idle pgbench baselines.

Run from the repository root:  .venv/bin/python -m bench.backfill [--rows 10000000] [--batch-size 20000]

Everything runs in one invocation on one throwaway PostgreSQL 15 cluster, each contender on its own identical copy
of the table, so the ratios stay meaningful when other work shares the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.backfill import contenders, dataset, pgbench_load
from bench.support import machine, results_table
from bench.support.repo_paths import RESULTS_DIR, ROOT, use_collection_imports

ENGINE_MODULE = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.engine"
# Targets from the issue: >= 70% of the single UPDATE's rows/s, pgbench p99 <= 1.5x its idle baseline.
ROWS_TARGET = 0.70
P99_TARGET = 1.5
FIXED_RUN = "engine, fixed batch"
ADAPTIVE_RUN = "engine, adaptive batch"
CLUSTER_CONF = {
    # Room for a 10M-row UPDATE without a checkpoint storm in the middle of the measurement.
    "shared_buffers": "'1GB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "maintenance_work_mem": "'512MB'",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the table (default 10,000,000)")
    parser.add_argument("--batch-size", type=int, default=20_000,
                        help="the fixed-batch run's (and the keyset loop's) batch size (default 20,000)")
    parser.add_argument("--pause-ms", type=int, default=0,
                        help="the fixed-batch run's pause between batches (default 0)")
    parser.add_argument("--batch-time", default=None,
                        help="the adaptive run's batch_time, e.g. 50ms (default: not declared, the engine's)")
    parser.add_argument("--pause-ratio", type=float, default=None,
                        help="the adaptive run's pause_ratio (default: not declared, the engine's)")
    parser.add_argument("--pgbench-clients", type=int, default=4)
    parser.add_argument("--pgbench-rate", type=int, default=1000,
                        help="pgbench transactions/s over all clients, 0 = unthrottled (default 1000)")
    parser.add_argument("--latency-limit-ms", type=int, default=1000,
                        help="pgbench --latency-limit: later transactions are skipped and count as slower")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="length of each idle baseline (default 20)")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="stop the engine's backfill after this long and report its partial rows/s (default 1800)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="skip runs whose name contains NAME: fixed, adaptive, single, keyset")
    return parser.parse_args()


def ms(value: float) -> str:
    return "> limit" if math.isinf(value) else f"{value:.2f}"


def main() -> int:
    args = parse_args()
    use_collection_imports()
    from tests.support.pg_cluster import new_cluster

    settings = pgbench_load.PgbenchSettings(clients=args.pgbench_clients, threads=min(2, args.pgbench_clients),
                                            rate=args.pgbench_rate, latency_limit_ms=args.latency_limit_ms)
    engine_ready = importlib.util.find_spec(ENGINE_MODULE) is not None
    work = Path(tempfile.mkdtemp(prefix="dbops-bench-backfill-"))
    # The fixed run is the backfill as it was declared before batches were sized by time: a row count, no pause.
    fixed_pacing = {"batch_size": args.batch_size, "pause_ms": args.pause_ms, "pause_ratio": 0}
    pacing_args = (("batch_time", args.batch_time), ("pause_ratio", args.pause_ratio))
    adaptive_pacing = {key: value for key, value in pacing_args if value is not None}
    fixed_set = contenders.write_migration_set(work / "fixed", fixed_pacing)
    adaptive_set = contenders.write_migration_set(work / "adaptive", adaptive_pacing)
    load_before = machine.load()
    results: list[dict] = []
    cluster = new_cluster(prefix="dbops-bench-backfill-pg-", extra_conf=CLUSTER_CONF)
    try:
        cluster.create_database("bf_template")
        generated_s = dataset.generate(cluster.dsn("bf_template"), args.rows)
        print(f"generated {args.rows:,} rows in {generated_s:.1f} s", flush=True)

        def engine(migrations: Path, db: str):
            if not engine_ready:
                return None
            return lambda dsn: contenders.engine_backfill(
                dsn, migrations, contenders.Deadline(cluster.dsn(), db, args.max_seconds))

        runs = [
            (FIXED_RUN, "bf_fixed", engine(fixed_set, "bf_fixed")),
            (ADAPTIVE_RUN, "bf_adaptive", engine(adaptive_set, "bf_adaptive")),
            ("single UPDATE", "bf_update", contenders.single_update),
            ("bare keyset loop (floor)", "bf_keyset",
             lambda dsn: contenders.keyset_loop(dsn, args.batch_size, args.pause_ms)),
        ]
        runs = [run for run in runs if not any(skip in run[0] for skip in args.skip)]
        for _name, db, _action in runs:
            dataset.clone(cluster.dsn(), "bf_template", db)
        # The idle baselines run on the pristine template: no dead tuples, no autovacuum of a finished run.
        idle_dsn = cluster.dsn("bf_template")

        def idle(label: str) -> pgbench_load.LatencyStats:
            dataset.checkpoint(cluster.dsn())
            _none, stats = pgbench_load.measure(idle_dsn, args.rows, settings, lambda: time.sleep(args.idle_seconds))
            print(f"{label}: p99 {ms(stats.p99_ms)} ms over {stats.transactions} transactions", flush=True)
            results.append({"name": label, "pgbench": asdict(stats)})
            return stats

        idle_before = idle("idle baseline (before)")
        for name, db, action in runs:
            if action is None:
                results.append({"name": name, "missing": True})
                continue
            dsn = cluster.dsn(db)
            dataset.checkpoint(dsn)
            outcome, stats = pgbench_load.measure(dsn, args.rows, settings, lambda a=action, d=dsn: a(d))
            if outcome.batch_times:
                print(f"{name}: {outcome.batch_times}", flush=True)
            if outcome.pacing:
                print(f"{name}: {outcome.pacing}", flush=True)
            if outcome.stopped:
                print(f"{name}: {outcome.stopped}", flush=True)
            elif (pending := dataset.count_pending(dsn)) != 0:
                raise RuntimeError(f"{name} left {pending} rows not migrated")
            print(f"{name}: {outcome.seconds:.1f} s, {outcome.rows:,} rows, pgbench p99 {ms(stats.p99_ms)} ms",
                  flush=True)
            results.append({"name": name, "outcome": asdict(outcome), "pgbench": asdict(stats)})
            # Its dead tuples would otherwise be vacuumed during the next run and slow it down.
            cluster.drop_database(db)
        idle_after = idle("idle baseline (after)")
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    load_after = machine.load()

    report(args, results, idle_before, idle_after, load_before, load_after)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"backfill-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "machine": machine.describe(), "load_before": load_before,
                               "load_after": load_after, "results": results}, indent=2, default=str))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    return 0


def report(args, results, idle_before, idle_after, load_before, load_after) -> None:
    by_name = {entry["name"]: entry for entry in results}
    update = by_name.get("single UPDATE", {}).get("outcome")
    update_rate = update["rows"] / update["seconds"] if update else None
    # The lower of the two idle baselines: noise from other work on the machine must not make the target easier.
    idle_p99 = min(idle_before.p99_ms, idle_after.p99_ms)
    rows = []
    for entry in results:
        stats = entry.get("pgbench")
        outcome = entry.get("outcome")
        if entry.get("missing"):
            rows.append([entry["name"], "not available yet", *["-"] * 9])
            continue
        rate = outcome["rows"] / outcome["seconds"] if outcome else None
        lock = outcome.get("lock_held_s") if outcome else None
        rows.append([
            entry["name"] + (" (STOPPED at the time limit)" if outcome and outcome.get("stopped") else ""),
            results_table.seconds(outcome["seconds"]) if outcome else "-",
            f"{rate:,.0f}" if rate else "-",
            results_table.ratio(rate, update_rate) if rate else "-",
            f"{stats['transactions'] / stats['seconds']:.0f}",
            ms(stats["p50_ms"]),
            ms(stats["p99_ms"]),
            "-" if math.isinf(stats["p99_ms"]) else results_table.ratio(stats["p99_ms"], idle_p99),
            ms(stats["max_ms"]),
            f"{stats['skipped']}/{stats['transactions']}",
            f"{lock:.1f} s" if lock is not None else "-",
        ])
    print()
    throttle = (f"-R {args.pgbench_rate} --latency-limit {args.latency_limit_ms}" if args.pgbench_rate
                else "unthrottled")
    pacing_args = (("batch_time", args.batch_time), ("pause_ratio", args.pause_ratio))
    adaptive = ", ".join(f"{key} {value}" for key, value in pacing_args if value is not None)
    print(f"bench/backfill: {args.rows:,} rows; fixed batch {args.batch_size:,} rows, pause {args.pause_ms} ms; "
          f"adaptive batch: {adaptive or 'the engine defaults'}; "
          f"pgbench -c {args.pgbench_clients} {throttle}: a point read + a point update on the same table")
    print(f"machine: {machine.describe()}")
    print(f"{load_before} at start, {load_after} at end")
    print()
    print(results_table.render(["run", "seconds", "rows/s", "vs single UPDATE", "pgbench tps", "p50 ms", "p99 ms",
                                "p99 vs idle", "max ms", "skipped/all", "lock held"], rows))
    print()
    print(targets_table(by_name, update_rate, idle_p99))
    for name in (FIXED_RUN, ADAPTIVE_RUN):
        outcome = by_name.get(name, {}).get("outcome") or {}
        for detail in ("batch_times", "pacing"):
            if outcome.get(detail):
                print(f"{name}: {outcome[detail]}")
    if update:
        print(f"the single UPDATE held its row locks for {update['lock_held_s']:.1f} s (one transaction); "
              f"pgbench updates of rows it had touched waited that long")
    print(f"idle p99 before {idle_before.p99_ms:.2f} ms, after {idle_after.p99_ms:.2f} ms (the spread is the noise "
          "of whatever else runs on the machine); p99 ratios are against the lower one")


def targets_table(by_name: dict, update_rate: float | None, idle_p99: float) -> str:
    """Both targets for both engine runs: measured ratio, target, met or missed."""
    rows = []
    for name in (FIXED_RUN, ADAPTIVE_RUN):
        entry = by_name.get(name, {})
        outcome, stats = entry.get("outcome"), entry.get("pgbench")
        if not outcome or not stats:
            rows += [[name, what, "not run", target, "-"] for what, target in (
                ("rows/s vs single UPDATE", f">= {ROWS_TARGET:.2f}x"), ("pgbench p99 vs idle", f"<= {P99_TARGET}x"))]
            continue
        share = outcome["rows"] / outcome["seconds"] / update_rate if update_rate else None
        rows.append([name, "rows/s vs single UPDATE", results_table.ratio(share, 1.0), f">= {ROWS_TARGET:.2f}x",
                     "-" if share is None else ("met" if share >= ROWS_TARGET and not outcome.get("stopped")
                                                else "MISSED")])
        factor = stats["p99_ms"] / idle_p99
        rows.append([name, "pgbench p99 vs idle", "over the latency limit" if math.isinf(factor) else f"{factor:.2f}x",
                     f"<= {P99_TARGET}x", "met" if factor <= P99_TARGET else "MISSED"])
    return results_table.render(["run", "figure", "measured", "target", "met/missed"], rows)


if __name__ == "__main__":
    sys.exit(main())
