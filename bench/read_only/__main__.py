"""Benchmark: emergency read-only mode under a write load, on PostgreSQL and MongoDB.

For each database, while writers keep trying every way a session can (PostgreSQL: an open connection, one that
runs SET default_transaction_read_only = off first, BEGIN READ WRITE, a brand-new connection each time; MongoDB: an
open client and a new client each time), the time from the command to "engaged and verified" and the writes the
server acknowledged after that moment, for sevenp.dbops' read_only engine (hard mode) and for the peer an operator
has today (community.postgresql.postgresql_set of default_transaction_read_only; community.mongodb.mongodb_user
with roles: read). Targets: engaged and verified in <= 1 s on each database, 0 writes accepted after it.

Run from the repository root:  .venv/bin/python -m bench.read_only [--repeat 5] [--observe-seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.support import machine, results_table
from bench.support.repo_paths import use_collection_imports

ENGAGED_TARGET_S = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.read_only", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="rounds per contender (default 5)")
    parser.add_argument("--warmup-seconds", type=float, default=0.5, help="writes before each engage (default 0.5)")
    parser.add_argument("--observe-seconds", type=float, default=2.0,
                        help="how long the writers keep trying after engaged (default 2)")
    return parser.parse_args()


def measure(contender, writers, args) -> tuple[float, int, dict[str, int], int]:
    """(seconds to engaged and verified, writes acknowledged after it, per writer, writes before)."""
    from bench.read_only.write_load import WriteLoad

    load = WriteLoad(writers).start()
    try:
        time.sleep(args.warmup_seconds)
        before = load.accepted_total()
        started = time.monotonic()
        contender.engage()
        engaged = time.monotonic()
        time.sleep(args.observe_seconds)
    finally:
        load.stop()
    after = load.accepted_after(engaged)
    contender.undo()
    time.sleep(0.2)
    return engaged - started, sum(after.values()), after, before


def main() -> int:
    args = parse_args()
    use_collection_imports()
    from bench.read_only import application, contenders
    from tests.support.mongo_server import new_authenticated_server
    from tests.support.pg_cluster import new_cluster

    print(machine.describe())
    load_start = machine.load()
    cluster = new_cluster(prefix="dbops-bench-ro-")
    mongo = new_authenticated_server(application.provision_mongodb)
    work = Path(tempfile.mkdtemp(prefix="dbops-bench-ro-"))
    rows = []
    try:
        cluster.create_database("shop")
        admin_dsn = cluster.dsn("shop")
        application.provision_postgres(admin_dsn)
        app_dsn = cluster.dsn("shop", user=application.APP_ROLE, password=application.APP_PASSWORD)
        app_uri = contenders.app_uri(mongo.host)
        runs = [
            ("postgres", contenders.PostgresSetting(admin_dsn), lambda: application.postgres_writers(app_dsn)),
            ("postgres", contenders.DbopsReadOnly("postgres", postgres_dsn=admin_dsn, state_file=work / "pg.json"),
             lambda: application.postgres_writers(app_dsn)),
            ("mongodb", contenders.MongoUserRoles(mongo.admin_uri, app_uri),
             lambda: application.mongodb_writers(app_uri)),
            ("mongodb", contenders.DbopsReadOnly("mongodb", mongodb_uri=mongo.admin_uri,
                                                 state_file=work / "mongo.json"),
             lambda: application.mongodb_writers(app_uri)),
        ]
        measured: dict[str, tuple[list[float], list[int], dict[str, int], list[int]]] = {}
        for round_no in range(args.repeat):
            for database, contender, writers in runs:
                seconds, accepted, per_writer, before = measure(contender, writers(), args)
                times, counts, worst, befores = measured.setdefault(f"{database}|{contender.name}",
                                                                    ([], [], {}, []))
                times.append(seconds)
                counts.append(accepted)
                befores.append(before)
                for name, count in per_writer.items():
                    worst[name] = max(worst.get(name, 0), count)
                print(f"round {round_no + 1}: {database:8} {contender.name:45} {seconds:6.3f} s, "
                      f"{accepted} writes accepted after ({before} before)", flush=True)
        peers = {database: statistics.median(measured[f"{database}|{contender.name}"][0])
                 for database, contender, _writers in runs if not isinstance(contender, contenders.DbopsReadOnly)}
        for database, contender, _writers in runs:
            times, counts, worst, befores = measured[f"{database}|{contender.name}"]
            median = statistics.median(times)
            ours = isinstance(contender, contenders.DbopsReadOnly)
            met = median <= ENGAGED_TARGET_S and max(counts) == 0
            leaks = ", ".join(f"{name}: {count}" for name, count in worst.items() if count) or "none"
            rows.append([database, contender.name, results_table.seconds(median), results_table.seconds(max(times)),
                         results_table.ratio(median, peers[database]), str(max(counts)), leaks,
                         f"<= {ENGAGED_TARGET_S:g} s, 0 writes" if ours else "(peer)",
                         ("met" if met else "missed") if ours else "-"])
    finally:
        mongo.stop()
        cluster.destroy()
    print()
    print(results_table.render(
        ["database", "contender", "engaged+verified s (median)", "worst s", "vs peer (median)",
         "writes accepted after (worst round)", "which writers got through", "target", "met/missed"], rows))
    print(f"\n{args.repeat} rounds; {load_start} at the start, {machine.load()} at the end")
    return 0 if all(row[-1] != "missed" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
