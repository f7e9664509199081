"""Benchmark: an add-field migration over N documents (default 200,000) on one SecantusDB server (MongoDB wire
protocol, secantusd-py in its own process), through sevenp.dbops' engine, a plain pymongo bulk_write loop and
migrate-mongo (npm) running the equivalent migration.

Run from the repository root:  .venv/bin/python -m bench.mongo_apply [--docs 200000] [--repeat 1]

Each run gets a freshly seeded database; with --repeat, the contenders are interleaved round by round (the order
rotating each round) and the median is reported, so the ratios hold better when other work shares the machine.
Targets (issue 3): the engine reaches >= 90% of the plain loop's documents/s and >= 1.0x migrate-mongo's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.support import machine, results_table
from bench.support.repo_paths import RESULTS_DIR, use_collection_imports

use_collection_imports()

from bench.mongo_apply import contenders  # noqa: E402

PLAIN = "plain pymongo bulk_write loop"
ENGINE = "engine (mongodb.yml add_field)"
MIGRATE_MONGO = "migrate-mongo, batched bulkWrite"
MIGRATE_MONGO_ONE = "migrate-mongo, one updateMany (info)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mongo_apply", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000, help="documents to migrate (default 200000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; seconds are the median (default 1)")
    parser.add_argument("--no-update-many", action="store_true", help="leave out the informational updateMany row")
    return parser.parse_args()


def seed(client, database: str, docs: int) -> None:
    client.drop_database(database)
    users = client[database].users
    for start in range(0, docs, 10_000):
        users.insert_many([{"n": i, "email": f"user{i}@example.org", "profile": {"display_name": f"User {i}"}}
                           for i in range(start, min(docs, start + 10_000))], ordered=False)


def check(client, database: str, docs: int) -> None:
    done = client[database].users.count_documents({"preferences.theme": "light"})
    if done != docs:
        raise SystemExit(f"{database}: {done} of {docs} documents migrated")


def main() -> int:
    args = parse_args()
    import pymongo

    from tests.support.mongo_server import destroy_daemon, new_daemon

    migrate_mongo = contenders.ensure_migrate_mongo()
    names = [PLAIN, ENGINE, MIGRATE_MONGO] + ([] if args.no_update_many else [MIGRATE_MONGO_ONE])
    timings: dict[str, list[float]] = {name: [] for name in names}
    print(f"machine: {machine.describe()}", flush=True)
    daemon = new_daemon()
    client = pymongo.MongoClient(daemon.uri)
    try:
        with tempfile.TemporaryDirectory(prefix="dbops-bench-mongo-") as tmp:
            work = Path(tmp)
            for round_no in range(args.repeat):
                # The order rotates each round, so no contender always gets the quieter or busier minutes.
                shift = round_no % len(names)
                for index, name in sorted(enumerate(names), key=lambda item: (item[0] - shift) % len(names)):
                    database = f"bench_{round_no}_{index}"
                    seed(client, database, args.docs)
                    print(f"round {round_no + 1}: {name} ... ", end="", flush=True)
                    if name == PLAIN:
                        elapsed = contenders.plain_pymongo(client, database)
                    elif name == ENGINE:
                        sets = contenders.write_engine_set(work / f"engine-{round_no}")
                        elapsed = contenders.engine_run(daemon.uri, database, sets)
                    else:
                        project = contenders.migrate_mongo_project(
                            work / f"migrate-mongo-{round_no}-{index}", daemon.uri, database,
                            single_update=name == MIGRATE_MONGO_ONE)
                        elapsed = contenders.migrate_mongo_run(migrate_mongo, project)
                    check(client, database, args.docs)
                    client.drop_database(database)
                    timings[name].append(elapsed)
                    print(f"{elapsed:.1f} s ({machine.load()})", flush=True)
    finally:
        client.close()
        destroy_daemon(daemon)

    median = {name: statistics.median(values) for name, values in timings.items()}
    rate = {name: args.docs / seconds for name, seconds in median.items()}
    rows = [[name, results_table.seconds(median[name]), f"{rate[name]:,.0f}",
             results_table.ratio(rate[name], rate[PLAIN]), results_table.ratio(rate[name], rate[MIGRATE_MONGO])]
            for name in names]
    print()
    print(f"add-field migration, {args.docs:,} documents, batches of {contenders.BATCH}, median of {args.repeat} "
          f"round(s); SecantusDB {daemon_version()} as a single-node replica set")
    print(results_table.render(["contender", "seconds", "documents/s", "vs plain loop", "vs migrate-mongo"], rows))
    vs_plain = rate[ENGINE] / rate[PLAIN]
    vs_mm = rate[ENGINE] / rate[MIGRATE_MONGO]
    print()
    print(f"target engine >= 0.90x the plain loop: {vs_plain:.2f}x {'MET' if vs_plain >= 0.9 else 'MISSED'}")
    print(f"target engine >= 1.00x migrate-mongo (batched): {vs_mm:.2f}x {'MET' if vs_mm >= 1.0 else 'MISSED'}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"mongo_apply-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"docs": args.docs, "batch": contenders.BATCH, "repeat": args.repeat,
                               "seconds": timings, "median_seconds": median, "documents_per_s": rate,
                               "machine": machine.describe()}, indent=1))
    print(f"results: {out}")
    return 0


def daemon_version() -> str:
    from importlib.metadata import version

    return version("SecantusDB")


if __name__ == "__main__":
    sys.exit(main())
