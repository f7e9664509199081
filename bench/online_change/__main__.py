"""Benchmark: changing a column's type (integer to bigint) on a big table while the application writes to it,
once with the plain ALTER TABLE and once with sevenp.dbops' online change declared in migration.yml, each with
pgbench writing to the table alongside (updates by random key and inserts): pgbench's p99 and the longest stall
of its writes.

Run from the repository root:  .venv/bin/python -m bench.online_change [--rows 10000000] [--batch-time 100ms]

Everything runs in one invocation on one throwaway PostgreSQL 15 cluster, each contender on its own identical copy
of the table. Target (issue 13): the longest stall under the online change <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.backfill import dataset as backfill_dataset
from bench.backfill.contenders import Deadline
from bench.backfill.pgbench_load import PgbenchSettings
from bench.online_change import contenders, dataset, write_load
from bench.support import machine, results_table
from bench.support.repo_paths import RESULTS_DIR, ROOT, use_collection_imports

STALL_TARGET_S = 1.0
PLAIN_RUN = "plain ALTER TABLE"
ONLINE_RUN = "engine online_change"
CLUSTER_CONF = {
    # Room for rewriting a 10M-row table (twice over for the online change) without a checkpoint storm.
    "shared_buffers": "'1GB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "maintenance_work_mem": "'512MB'",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.online_change", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the table (default 10,000,000)")
    parser.add_argument("--batch-time", default=None,
                        help="the online change's batch_time, e.g. 100ms (default: not declared, the engine's)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="the online change's batch_size (default: not declared, the engine's)")
    parser.add_argument("--lock-timeout", default="2s", help="the online change's lock_timeout (default 2s)")
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-rate", type=int, default=1000,
                        help="pgbench transactions/s over all clients, 0 = unthrottled (default 1000)")
    parser.add_argument("--latency-limit-ms", type=int, default=1000,
                        help="pgbench --latency-limit: later transactions are skipped and count as slower")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="stop the online change after this long (default 1800)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="skip runs whose name contains NAME: plain, online")
    return parser.parse_args()


def ms(value: float) -> str:
    return "> limit" if math.isinf(value) else f"{value:.2f}"


def main() -> int:
    args = parse_args()
    use_collection_imports()
    from tests.support.pg_cluster import new_cluster

    runs = [name for name in (PLAIN_RUN, ONLINE_RUN) if not any(skip in name for skip in args.skip)]
    if ONLINE_RUN in runs and (missing := contenders.engine_missing()):
        print(f"bench/online_change: cannot run the online change: {missing}. Run with --skip online to measure "
              "the plain ALTER TABLE alone.", file=sys.stderr)
        return 2
    settings = PgbenchSettings(clients=args.pgbench_clients, threads=min(2, args.pgbench_clients),
                               rate=args.pgbench_rate, latency_limit_ms=args.latency_limit_ms)
    work = Path(tempfile.mkdtemp(prefix="dbops-bench-online-change-"))
    migrations = contenders.write_migration_set(work / "online", args.batch_time, args.batch_size, args.lock_timeout)
    load_before = machine.load()
    results: list[dict] = []
    cluster = new_cluster(prefix="dbops-bench-online-change-pg-", extra_conf=CLUSTER_CONF)
    try:
        cluster.create_database("oc_template")
        generated_s = dataset.generate(cluster.dsn("oc_template"), args.rows)
        original = dataset.contents(cluster.dsn("oc_template"))
        print(f"generated {args.rows:,} rows in {generated_s:.1f} s", flush=True)
        actions = {
            PLAIN_RUN: ("oc_plain", contenders.plain_alter),
            ONLINE_RUN: ("oc_online", lambda dsn: contenders.online_change(
                dsn, migrations, Deadline(cluster.dsn(), "oc_online", args.max_seconds))),
        }
        for name in runs:
            backfill_dataset.clone(cluster.dsn(), "oc_template", actions[name][0])
        for name in runs:
            db, action = actions[name]
            dsn = cluster.dsn(db)
            backfill_dataset.checkpoint(dsn)
            outcome, figures = write_load.measure(dsn, args.rows, settings, lambda a=action, d=dsn: a(d))
            after = dataset.contents(dsn)
            if after.amount_type != dataset.NEW_TYPE and not outcome.stopped:
                raise RuntimeError(f"{name} returned but {dataset.QUALIFIED}.{dataset.COLUMN} is {after.amount_type}"
                                   f", not {dataset.NEW_TYPE}: it did not change the column")
            entry = {"name": name, "outcome": asdict(outcome), "pgbench": asdict(figures.latency),
                     "stall": asdict(figures.stall), "committed": figures.committed, "after": asdict(after),
                     "writes": writes_check(original, after, figures.committed)}
            print(f"{name}: {outcome.seconds:.1f} s, longest stall {figures.stall.seconds:.3f} s, pgbench p99 "
                  f"{ms(figures.latency.p99_ms)} ms, {after.amount_type} after; writes: {entry['writes']}",
                  flush=True)
            for extra in (outcome.stopped, outcome.detail):
                if extra:
                    print(f"{name}: {extra}", flush=True)
            results.append(entry)
            # Its dead tuples (and the replaced table) would otherwise be vacuumed during the next run.
            cluster.drop_database(db)
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    load_after = machine.load()

    report(args, results, load_before, load_after)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"online_change-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "machine": machine.describe(), "load_before": load_before,
                               "load_after": load_after, "results": results}, indent=2, default=str))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    return 0


def writes_check(original: dataset.Contents, after: dataset.Contents, committed: int) -> str:
    """Every committed transaction added one row and 1 to the sum: anything else is a lost (or doubled) write."""
    rows_off = after.rows - (original.rows + committed)
    sum_off = after.amount_sum - (original.amount_sum + committed)
    if not rows_off and not sum_off:
        return f"all {committed:,} kept"
    return f"MISMATCH: rows {rows_off:+,}, sum(amount) {sum_off:+,} vs {committed:,} committed"


def report(args, results, load_before, load_after) -> None:
    rows = []
    for entry in results:
        stats, outcome, stall = entry["pgbench"], entry["outcome"], entry["stall"]
        rows.append([
            entry["name"] + (" (STOPPED at the time limit)" if outcome.get("stopped") else ""),
            results_table.seconds(outcome["seconds"]),
            f"{stats['transactions'] / stats['seconds']:.0f}",
            ms(stats["p50_ms"]),
            ms(stats["p99_ms"]),
            ms(stats["max_ms"]),
            f"{stall['seconds']:.3f} (at {stall['at_s']:.1f} s)",
            f"{stats['skipped']}/{stats['transactions']}",
            entry["after"]["amount_type"],
            entry["writes"],
        ])
    print()
    throttle = (f"-R {args.pgbench_rate} --latency-limit {args.latency_limit_ms}" if args.pgbench_rate
                else "unthrottled")
    pacing = ", ".join(f"{key} {value}" for key, value in (("batch_time", args.batch_time),
                                                           ("batch_size", args.batch_size)) if value is not None)
    print(f"bench/online_change: {args.rows:,} rows, {dataset.QUALIFIED}.{dataset.COLUMN} {dataset.OLD_TYPE} -> "
          f"{dataset.NEW_TYPE}; online change: {pacing or 'the engine defaults'}, lock_timeout {args.lock_timeout}; "
          f"pgbench -c {args.pgbench_clients} {throttle}: per transaction an update by random key and an insert")
    print(f"machine: {machine.describe()}")
    print(f"{load_before} at start, {load_after} at end")
    print()
    print(results_table.render(["run", "seconds", "pgbench tps", "p50 ms", "p99 ms", "max latency ms",
                                "longest stall s", "skipped/all", "type after", "writes"], rows))
    print()
    print(targets_table({entry["name"]: entry for entry in results}))
    print("longest stall: the largest gap between two consecutive pgbench transaction ends (all clients together)"
          " that opened while the run lasted, i.e. the longest time no write committed; max latency: the slowest"
          " transaction scheduled meanwhile, counted from its scheduled start, so it also holds the time a client"
          " fell behind its schedule (skipped = could not start within the limit)")


def targets_table(by_name: dict) -> str:
    entry = by_name.get(ONLINE_RUN)
    if entry is None:
        rows = [[ONLINE_RUN, "longest stall", "not run", f"<= {STALL_TARGET_S:.0f} s", "-"]]
    else:
        stall = entry["stall"]["seconds"]
        met = stall <= STALL_TARGET_S and not entry["outcome"].get("stopped")
        rows = [[ONLINE_RUN, "longest stall", f"{stall:.3f} s", f"<= {STALL_TARGET_S:.0f} s",
                 "met" if met else "MISSED"]]
    plain = by_name.get(PLAIN_RUN)
    if plain is not None:
        rows.append([PLAIN_RUN, "longest stall", f"{plain['stall']['seconds']:.3f} s", "(reference)", "-"])
    return results_table.render(["run", "figure", "measured", "target", "met/missed"], rows)


if __name__ == "__main__":
    sys.exit(main())
