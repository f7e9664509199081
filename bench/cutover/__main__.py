"""Benchmark: the blue-green switch under write load, this collection's against the plain manual procedure.

While `pgbench -c 8` inserts through PgBouncer (transaction pooling) into a table whose key is a sequence, and
(for this collection's switch) a MongoDB client inserts through HAProxy, each contender moves the traffic from
blue to green:
  - peer: the manual procedure, each step a psql (or sed) process: PAUSE, a psql loop until the subscription's
    slot on blue has confirmed blue's pg_current_wal_lsn(), setval of the sequences, sed on [databases], RELOAD,
    RESUME (bench/cutover/manual_procedure.py);
  - ours: `ansible-playbook playbooks/cutover.yml` with dbops_cutover_action=prepare (not timed), then =switch.
Each contender gets a fresh estate (tests/support/cutover_estate.py: two PostgreSQL 15 clusters, PgBouncer, two
SecantusDB servers behind HAProxy). Measured, by the clients: the largest gap between two consecutive commits (all
clients together) around the switch, failed transactions, acknowledged writes missing on green afterwards; by
the contender: PAUSE -> RESUME. Targets (PostgreSQL): largest commit gap <= 150 ms, 0 failed, 0 lost; the
MongoDB write gap is reported the same way.

Run from the repository root:  .venv/bin/python -m bench.cutover [--repeat 3] [--only peer|dbops]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.cutover import commit_gaps
from bench.cutover.pgbench_load import ITEM, PgbenchLoad
from bench.support import machine, results_table
from bench.support.repo_paths import RESULTS_DIR, ROOT, use_collection_imports

GAP_TARGET_MS = 150.0
TABLE = "orders"
PEER, OURS = "peer", "dbops"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cutover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="rounds per contender, each on a fresh estate (1)")
    parser.add_argument("--only", choices=[PEER, OURS], help="run one contender only")
    parser.add_argument("--clients", type=int, default=8, help="pgbench -c (8)")
    parser.add_argument("--threads", type=int, default=2, help="pgbench -j (2)")
    parser.add_argument("--rate", type=int, default=0, help="pgbench -R, transactions/s; 0 = unthrottled (0)")
    parser.add_argument("--warmup-seconds", type=float, default=5.0, help="load before the switch (5)")
    parser.add_argument("--observe-seconds", type=float, default=3.0, help="load after the switch (3)")
    parser.add_argument("--poll-seconds", type=float, default=0.01,
                        help="the manual procedure's sleep between two psql reads of the slot (0.01)")
    parser.add_argument("--no-mongodb", action="store_true", help="this collection's switch of PostgreSQL alone")
    return parser.parse_args()


def count_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE item = %s", (ITEM,)).fetchone()
    return int(row[0]) if row else 0


def served_port(app_dsn: str) -> int:
    """The port of the PostgreSQL server PgBouncer sends the application to now."""
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT inet_server_port()").fetchone()
    return int(row[0]) if row else 0


def contender_for(kind: str, estate: Any, work: Path, args: argparse.Namespace) -> Any:
    if kind == PEER:
        from bench.cutover.manual_procedure import ManualSwitch

        return ManualSwitch(blue_dsn=estate.blue_dsn, green_dsn=estate.green_dsn,
                            admin_dsn=estate.pgbouncer_admin_dsn, ini=estate.pgbouncer_config,
                            database=estate.pgbouncer_database, blue_port=estate.cluster("blue").port,
                            green_port=estate.cluster("green").port, poll_s=args.poll_seconds)
    from bench.cutover.dbops_switch import DbopsSwitch

    return DbopsSwitch(estate=estate, work=work, mongodb=not args.no_mongodb)


def one_round(kind: str, args: argparse.Namespace, work: Path) -> dict:
    from bench.cutover.mongo_writer import COLLECTION
    from tests.support.cutover_estate import start_estate

    mongodb = kind == OURS and not args.no_mongodb
    with start_estate(work / "estate", postgres=True, mongodb=mongodb) as estate:
        if mongodb:
            import pymongo

            # The writer's collection exists before the initial copy, like the application's own collections.
            seeder: pymongo.MongoClient = pymongo.MongoClient(estate.blue_mongo_uri)
            with seeder:
                seeder[estate.mongodb_database][COLLECTION].insert_one({"_id": -1, "seed": True})
        contender = contender_for(kind, estate, work / "contender", args)
        try:
            return measure(kind, contender, estate, args, mongodb)
        finally:
            if kind == OURS:
                contender.stop_copies()


def measure(kind: str, contender: Any, estate: Any, args: argparse.Namespace, mongodb: bool) -> dict:
    """Prepare, then the switch under the load; the figures of the round."""
    from bench.cutover import mongo_writer
    from bench.cutover.mongo_writer import MongoWriter

    prepare_started = time.monotonic()
    contender.prepare()
    prepare_s = time.monotonic() - prepare_started
    load_started = time.time()
    load = PgbenchLoad(estate.app_dsn, TABLE, clients=args.clients, threads=args.threads, rate=args.rate)
    load.start()
    writer = MongoWriter(estate.app_mongo_uri, estate.mongodb_database).start() if mongodb else None
    try:
        time.sleep(args.warmup_seconds)
        switch_start = time.time()
        contender.switch()
        switch_end = time.time()
        time.sleep(args.observe_seconds)
    finally:
        pg = load.stop()
        if writer is not None:
            writer.stop()
    load.cleanup()
    # An undone switch leaves the traffic on blue: the acknowledged writes must then all be there.
    side = "blue" if getattr(contender, "undone", False) else "green"
    kept = count_rows(estate.pg_dsn(side))
    green_port = estate.cluster("green").port
    now_served = served_port(estate.app_dsn)
    gap = commit_gaps.largest_gap(pg.ends, switch_start, switch_end)
    result: dict[str, Any] = {
        "contender": contender.name, "kind": kind, "prepare_s": round(prepare_s, 2), "checked_side": side,
        "switch_s": round(switch_end - switch_start, 3),
        "pause_ms": contender.pause_ms, "steps": contender.steps,
        "postgres": {
            "committed": pg.committed, "failed": pg.failed, "aborted_clients": pg.aborted_clients,
            "largest_gap_ms": round(gap.ms, 1), "gap_starts_s": round(gap.starts_s, 3),
            "largest_one_client_gap_ms": round(max((commit_gaps.largest_gap(ends, switch_start, switch_end).ms
                                                    for ends in pg.ends_by_client.values()), default=0.0), 1),
            "largest_gap_before_ms": round(commit_gaps.largest_gap_inside(
                pg.ends, load_started + 1.0, switch_start), 1),
            "tps": round(pg.committed / max(pg.ends[-1] - pg.ends[0], 1e-9), 0) if pg.ends else 0,
            "rows_kept": kept, "lost": max(0, pg.committed - kept),
            "unacknowledged_kept": max(0, kept - pg.committed),
            "served_by_green": now_served == green_port, "pgbench_rc": pg.returncode,
        },
    }
    if pg.aborted_clients or pg.returncode not in (0,):
        result["postgres"]["pgbench_output_tail"] = pg.output.splitlines()[-15:]
    if kind == PEER:
        result["polls"] = contender.polls
    else:
        result.update(mongodb_pause_ms=contender.mongodb_pause_ms, positions=contender.positions,
                      undone=contender.undone, slow_step=contender.slow_step,
                      playbook_s=contender.playbook_s)
    if writer is not None:
        mongo_gap = commit_gaps.largest_gap(writer.ends, switch_start, switch_end)
        after = sum(1 for at in writer.ends if at > switch_end)
        result["mongodb"] = {
            "acknowledged": len(writer.acked), "failed_attempts": writer.failed_attempts,
            # No write after the switch: the gap never closed, there is no figure to give.
            "errors": writer.errors, "largest_gap_ms": round(mongo_gap.ms, 1) if after else None,
            "gap_starts_s": round(mongo_gap.starts_s, 3),
            "largest_gap_before_ms": round(commit_gaps.largest_gap_inside(
                writer.ends, load_started + 1.0, switch_start), 1),
            "lost": writer.missing_on(estate.mongo_uri(side)),
            "error_samples": writer.error_samples,
            "writes_after_switch": after,
        }
        # Whether the application can write at all now, and where HAProxy sends a new client.
        fresh = mongo_writer.fresh_client_write(estate.app_mongo_uri, estate.mongodb_database)
        landed = [name for name in ("blue", "green") if mongo_writer.holds(
            estate.mongo_uri(name), estate.mongodb_database, "fresh client after the switch")]
        result["mongodb"].update(fresh_client_write=fresh, fresh_client_landed_on=landed)
    return result


def figure(results: list[dict], path: str) -> list[float]:
    values = []
    for result in results:
        value: Any = result
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float):
            values.append(float(value))
    return values


def cell(values: list[float], digits: int = 0) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    text = f"{median:,.{digits}f}"
    return text if len(values) == 1 else f"{text} (max {max(values):,.{digits}f})"


def render(rounds: dict[str, list[dict]]) -> tuple[str, bool]:
    ours, peer = rounds.get(OURS, []), rounds.get(PEER, [])
    rows: list[list[str]] = []
    all_met = True

    def row(label: str, path: str, target: str = "(for information)", limit: float | None = None,
            digits: int = 0, at_least: bool = False) -> None:
        nonlocal all_met
        mine, theirs = figure(ours, path), figure(peer, path)
        ratio = results_table.ratio(statistics.median(mine), statistics.median(theirs)) if mine and theirs else "-"
        verdict = "-"
        if limit is not None and mine:
            met = min(mine) >= limit if at_least else max(mine) <= limit
            verdict = "met" if met else "missed"
            all_met = all_met and met
        text = cell(mine, digits)
        never = sum(1 for result in ours if result.get("mongodb", {}).get("writes_after_switch") == 0)
        if path == "mongodb.largest_gap_ms" and never:
            text = f"never closed in {never} of {len(ours)} round(s)" + (f"; {text}" if mine else "")
        rows.append([label, text, cell(theirs, digits), ratio, target, verdict])

    row("PostgreSQL PAUSE -> RESUME, ms", "pause_ms")
    row("PostgreSQL largest gap between two commits, ms", "postgres.largest_gap_ms", f"<= {GAP_TARGET_MS:g} ms",
        GAP_TARGET_MS)
    row("PostgreSQL largest gap between two commits of one client, ms", "postgres.largest_one_client_gap_ms")
    row("PostgreSQL failed transactions", "postgres.failed", "0", 0)
    row("PostgreSQL acknowledged writes lost", "postgres.lost", "0", 0)
    row("PostgreSQL transactions committed (the whole run)", "postgres.committed")
    row("PostgreSQL transactions per second (the whole run)", "postgres.tps")
    row("PostgreSQL largest commit gap before the switch (load alone), ms", "postgres.largest_gap_before_ms")
    row("MongoDB pause (fence -> HAProxy on green), ms", "mongodb_pause_ms")
    row("MongoDB largest gap between two acknowledged writes, ms", "mongodb.largest_gap_ms", "(reported)")
    row("MongoDB failed write attempts (retried)", "mongodb.failed_attempts")
    row("MongoDB acknowledged writes lost", "mongodb.lost", "0", 0)
    row("MongoDB writes acknowledged after the switch returned", "mongodb.writes_after_switch", "> 0", 1,
        at_least=True)
    row("MongoDB writes acknowledged", "mongodb.acknowledged")
    row("MongoDB largest write gap before the switch, ms", "mongodb.largest_gap_before_ms")
    row("switch command, wall s (ours: whole ansible-playbook run)", "switch_s", digits=2)
    headers = ["measurement", f"ours ({len(ours)} round(s))", f"peer ({len(peer)} round(s))", "ours/peer",
               "target", "met/missed"]
    return results_table.render(headers, rows), all_met


def print_round(round_no: int, result: dict) -> None:
    pg = result["postgres"]
    mongo = result.get("mongodb")
    mongo_text = ""
    if mongo:
        gap_text = ("never closed" if mongo["largest_gap_ms"] is None
                    else f"{mongo['largest_gap_ms']:.0f} ms")
        mongo_text = (f"; MongoDB gap {gap_text}, {mongo['failed_attempts']} failed attempts, "
                      f"{mongo['lost']} lost")
    print(f"round {round_no}: {result['contender']}: pause {result['pause_ms'] or 0:.0f} ms, largest commit "
          f"gap {pg['largest_gap_ms']:.0f} ms, {pg['failed']} failed of {pg['committed']:,}, "
          f"{pg['lost']} lost{mongo_text} ({result['load_after']})", flush=True)
    if mongo:
        print(f"    MongoDB: {mongo['writes_after_switch']} writes acknowledged after the switch returned; "
              f"a fresh client's write: {mongo['fresh_client_write']} (landed on "
              f"{', '.join(mongo['fresh_client_landed_on']) or 'no side'}); errors seen: "
              f"{mongo['error_samples'] or 'none'}", flush=True)
    if result.get("undone"):
        print(f"    UNDONE: slow or failed step {result.get('slow_step')}", flush=True)
    for step in result["steps"]:
        print(f"    {step.get('name')}: {step.get('duration_ms')} ms", flush=True)


def main() -> int:
    args = parse_args()
    use_collection_imports()
    print(machine.describe(), flush=True)
    load_before = machine.load()
    print(load_before, flush=True)
    kinds = [args.only] if args.only else [PEER, OURS]
    rounds: dict[str, list[dict]] = {kind: [] for kind in kinds}
    errors: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="dbops-bench-cutover-"))
    try:
        for round_no in range(1, args.repeat + 1):
            for kind in kinds:
                try:
                    result = one_round(kind, args, base / f"{kind}-{round_no}")
                except Exception as error:  # one contender failing must not hide the other's figures
                    errors.append(f"round {round_no} {kind}: {error}")
                    print(f"round {round_no}: {kind} FAILED: {error}", flush=True)
                    continue
                result["load_after"] = machine.load()
                rounds[kind].append(result)
                if not result["postgres"]["served_by_green"] and not result.get("undone"):
                    errors.append(f"round {round_no} {kind}: the switch returned, but PgBouncer still serves blue")
                print_round(round_no, result)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load_after = machine.load()
    table, all_met = render(rounds)
    print()
    print(table)
    print(f"\npgbench -c {args.clients} -j {args.threads} -M simple{f' -R {args.rate}' if args.rate else ''} "
          f"through PgBouncer (transaction pooling); {load_before} at the start, {load_after} at the end")
    for failure in errors:
        print(f"FAILED: {failure}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"cutover-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "machine": machine.describe(), "load_before": load_before,
                               "load_after": load_after, "rounds": rounds, "errors": errors,
                               "gap_target_ms": GAP_TARGET_MS}, indent=2, default=str))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    return 0 if all_met and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
