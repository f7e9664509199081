"""Benchmark: N small migrations (one CREATE TABLE each) applied to an empty PostgreSQL 15 database by
sevenp.dbops' engine, by the whole migrate playbook, by Sqitch, by dbmate and by a bare psycopg loop (the floor).

Run from the repository root:  .venv/bin/python -m bench.apply [--count 500] [--repeat 5]

All contenders run in the same invocation, interleaved round by round on one throwaway cluster, each on a fresh
database, so the ratios stay meaningful even when other work shares the machine. The table gives the median and
the best (fastest) round of each contender and the ratios of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.apply import contenders, migration_files
from bench.support import external_tools, machine, results_table
from bench.support.repo_paths import RESULTS_DIR, ROOT, use_collection_imports

DBMATE_VERSION = "2.36.0"
ENGINE_MODULE = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.engine"
# Targets from the issue: engine <= 0.8x dbmate and within 15% of the bare loop; whole playbook <= 1.6x dbmate.
TARGETS = {"engine (in-process)": ("dbmate", 0.8), "ansible-playbook migrate.yml": ("dbmate", 1.6)}
FLOOR_TARGET = {"engine (in-process)": 1.15}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.apply", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="migrations to apply (default 500)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="skip contenders whose name contains NAME (repeatable): engine, playbook, sqitch, ...")
    parser.add_argument("--playbook-var", action="append", default=[], metavar="KEY=JSON",
                        help="extra variable for playbooks/migrate.yml (value parsed as JSON when it parses)")
    parser.add_argument("--no-lint-row", action="store_true",
                        help="do not measure the playbook a second time with its squawk lint phase")
    parser.add_argument("--profile-playbook", action="store_true",
                        help="after the rounds, run the playbook once more and print the seconds of each task")
    parser.add_argument("--profile-engine", metavar="FILE",
                        help="after the rounds, run the engine once more under cProfile and write the stats to FILE")
    return parser.parse_args()


def playbook_vars(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, _sep, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def table_count(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(r"SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\_t%'").fetchone()[0]


def main() -> int:
    args = parse_args()
    external_tools.ensure_debian_packages(["sqitch", "libdbd-pg-perl"])
    dbmate_bin = external_tools.ensure_npm_binary("dbmate", DBMATE_VERSION, "dbmate")
    use_collection_imports()
    from tests.support.pg_cluster import new_cluster

    work = Path(tempfile.mkdtemp(prefix="dbops-bench-apply-"))
    native = migration_files.write_native(work / "native", args.count)
    dbmate_dir = migration_files.write_dbmate(work / "dbmate", args.count)
    sqitch_dir = migration_files.write_sqitch(work / "sqitch", args.count)

    engine_ready = importlib.util.find_spec(ENGINE_MODULE) is not None
    playbook_ready = (ROOT / "playbooks" / "migrate.yml").exists()
    # The role's squawk lint phase is skipped (dbops_lint_enabled: false) for the row held to the target, as the
    # other tools lint nothing; a second row measures the playbook with the lint, as production runs it.
    extra_vars = {"dbops_lint_enabled": False, "dbops_report_dir": str(work / "reports"),
                  **playbook_vars(args.playbook_var)}
    entries: list[contenders.Contender] = [
        contenders.Contender("bare psycopg loop (floor)", contenders.bare_loop(native)),
        contenders.Contender("dbmate " + DBMATE_VERSION, contenders.dbmate(dbmate_bin, dbmate_dir)),
        contenders.Contender("sqitch", contenders.sqitch(sqitch_dir)),
        contenders.Contender("engine (in-process)", contenders.engine_in_process(native) if engine_ready else None),
        contenders.Contender("ansible-playbook migrate.yml",
                             contenders.playbook(native, work, extra_vars) if playbook_ready else None,
                             note="squawk lint phase off"),
        contenders.Contender("ansible-playbook migrate.yml + squawk lint",
                             contenders.playbook(native, work, {**extra_vars, "dbops_lint_enabled": True})
                             if playbook_ready and not args.no_lint_row else None,
                             note="as production runs it"),
        contenders.Contender("empty ansible-playbook (reference)", contenders.empty_playbook(work),
                             note="one ping task, no database"),
    ]
    entries = [entry for entry in entries if not any(skip in entry.name for skip in args.skip)]

    load_before = machine.load()
    timings: dict[str, list[float]] = {entry.name: [] for entry in entries}
    cluster = new_cluster(prefix="dbops-bench-apply-pg-")
    try:
        for round_no in range(args.repeat):
            # Rotate the order so no contender always runs first (cold caches) or last.
            shift = round_no % len(entries)
            for entry in entries[shift:] + entries[:shift]:
                if entry.apply is None:
                    continue
                name = "bench_" + uuid.uuid4().hex[:10]
                dsn = cluster.create_database(name)
                started = time.perf_counter()
                entry.apply(dsn)
                elapsed = time.perf_counter() - started
                if "reference" not in entry.name and (found := table_count(dsn)) != args.count:
                    raise RuntimeError(f"{entry.name} left {found} tables, expected {args.count}")
                timings[entry.name].append(elapsed)
                print(f"round {round_no + 1}/{args.repeat}  {entry.name:<36} {elapsed:7.2f} s", flush=True)
                cluster.drop_database(name)
        if args.profile_engine and engine_ready:
            profile_engine(cluster, native, Path(args.profile_engine))
        if args.profile_playbook and playbook_ready:
            profile_playbook(cluster, native, work, extra_vars)
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    load_after = machine.load()

    # Median and best (fastest) round: on a shared machine the best round is the one least disturbed by other
    # work, the median the typical one; both ratios are printed, each from the same kind of figure.
    median = {name: statistics.median(values) if values else None for name, values in timings.items()}
    best = {name: min(values) if values else None for name, values in timings.items()}
    dbmate_name, floor_name = "dbmate " + DBMATE_VERSION, "bare psycopg loop (floor)"
    headers = ["contender", "median s", "best s", "vs dbmate (median)", "vs dbmate (best)", "vs bare loop (median)",
               "vs bare loop (best)", "target", "note"]
    rows = []
    for entry in entries:
        name = entry.name
        if timings[name]:
            figures = [results_table.seconds(median[name]), results_table.seconds(best[name]),
                       results_table.ratio(median[name], median.get(dbmate_name)),
                       results_table.ratio(best[name], best.get(dbmate_name)),
                       results_table.ratio(median[name], median.get(floor_name)),
                       results_table.ratio(best[name], best.get(floor_name))]
        else:  # not built yet (engine or playbook missing), or --no-lint-row
            figures = ["not measured", *["-"] * 5]
        rows.append([name, *figures, target_text(name), entry.note])
    print()
    print(f"bench/apply: {args.count} migrations (one CREATE TABLE each) on an empty PostgreSQL 15 database, "
          f"{args.repeat} rounds")
    print(f"machine: {machine.describe()}")
    print(f"{load_before} at start, {load_after} at end")
    if extra_vars:
        print(f"playbook extra vars: {json.dumps(extra_vars)}")
    print()
    print(results_table.render(headers, rows))
    print()
    print(targets_table(median, best, {name: dbmate_name for name in TARGETS}, floor_name))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"apply-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"count": args.count, "repeat": args.repeat, "machine": machine.describe(),
                               "load_before": load_before, "load_after": load_after, "seconds": timings,
                               "playbook_vars": extra_vars}, indent=2))
    print(f"\nraw timings: {out.relative_to(ROOT)}")
    return 0


def target_text(name: str) -> str:
    if name in TARGETS:
        ref, limit = TARGETS[name]
        text = f"<= {limit}x {ref}"
        if name in FLOOR_TARGET:
            text += f", <= {FLOOR_TARGET[name]}x bare loop"
        return text
    return ""


def targets_table(median: dict[str, float | None], best: dict[str, float | None], dbmate_of: dict[str, str],
                  floor_name: str) -> str:
    """Every target of the issue: the measured factor (median and best round), the target, met or missed. A
    contender or reference skipped (--skip) or not built yet is "not measured"."""
    rows = []
    checks = [(name, dbmate_of[name], "dbmate", limit) for name, (_ref, limit) in TARGETS.items()]
    checks += [(name, floor_name, "the bare loop", limit) for name, limit in FLOOR_TARGET.items()]
    for name, reference, label, limit in checks:
        factors = [_factor(figures, name, reference) for figures in (median, best)]
        measured = [f"{factor:.2f}x" if factor is not None else "not measured" for factor in factors]
        rows.append([name, f"vs {label}", *measured, f"<= {limit}x",
                     *(results_table.verdict(factor, limit) for factor in factors)])
    return results_table.render(["contender", "figure", "median", "best", "target", "met/missed (median)",
                                 "met/missed (best)"], rows)


def _factor(figures: dict[str, float | None], name: str, reference: str) -> float | None:
    mine, theirs = figures.get(name), figures.get(reference)
    return mine / theirs if mine and theirs else None


def profile_engine(cluster, native: Path, out: Path) -> None:
    """Where a missed target's time goes: a timed breakdown and a cProfile of the engine, on fresh databases."""
    from bench.apply import engine_breakdown

    engine_breakdown.run(contenders.engine_in_process(native), contenders.bare_loop(native), cluster.create_database,
                         contenders.count_sets(native), out)


def profile_playbook(cluster, native: Path, work: Path, extra_vars: dict[str, object]) -> None:
    from bench.apply import playbook_breakdown

    dsn = cluster.create_database("bench_playbook_profile")
    vars_file = work / "playbook-profile-vars.json"
    vars_file.write_text(json.dumps({"dbops_postgres_dsn": dsn, "dbops_migrations_dir": str(native), **extra_vars}))
    vars_file.chmod(0o600)
    playbook_breakdown.run(dsn, vars_file)


if __name__ == "__main__":
    sys.exit(main())
