"""Where the engine's time goes when it applies the N migrations: database round trips by kind of query (and the
pipeline's flushes, where pipelined queries wait for their results), SQL parsing, the destructive guard,
discovery, and the rest (Python).

Diagnostic only (``--profile-engine``): it wraps psycopg's ``Cursor.execute`` and a few engine functions with
timers for one run, then puts everything back. The wrapped names are looked up defensively, so a refactored
engine only loses the corresponding line of the breakdown.
"""

from __future__ import annotations

import cProfile
import importlib
import pstats
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import psycopg

PKG = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops"
# (module, attribute, label): engine functions timed as a whole, where the engine imported them.
WRAPPED_FUNCTIONS = [
    (f"{PKG}.migrations.engine", "discover", "discovery (walk, read files, checksums, migration.yml)"),
    (f"{PKG}.postgres.part_executor", "split_statements", "SQL splitting/parsing (pglast)"),
    (f"{PKG}.postgres.part_executor", "find_destructive", "destructive guard"),
]


def query_label(query: object) -> str:
    text = query if isinstance(query, str) else repr(query)
    text = " ".join(text.split())
    if text.startswith("CREATE TABLE bench_t"):
        return "the migrations' own DDL (CREATE TABLE)"
    text = re.sub(r"'[^']*'", "'…'", text)
    return "SQL: " + text[:90]


class Breakdown:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._restore: list[Callable[[], None]] = []

    def _timed(self, label_of: Callable[..., str], original: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            label = label_of(*args, **kwargs)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return wrapper

    def install(self) -> None:
        # Connection.execute and the client-side cursors all go through Cursor.execute.
        original_execute = psycopg.Cursor.execute
        psycopg.Cursor.execute = self._timed(lambda _cur, query, *a, **k: query_label(query), original_execute)
        self._restore.append(lambda: setattr(psycopg.Cursor, "execute", original_execute))
        # In pipeline mode execute() only queues; the round trip is the sync (a flush, or the end of the block).
        for attr, label in (("sync", "pipeline round trips: flush (a statement's result back)"),
                            ("__exit__", "pipeline round trips: end of block (ledger rows + COMMIT)")):
            original = getattr(psycopg.Pipeline, attr)
            setattr(psycopg.Pipeline, attr, self._timed(lambda *a, _label=label, **k: _label, original))
            self._restore.append(lambda n=attr, o=original: setattr(psycopg.Pipeline, n, o))
        for module_name, attr, label in WRAPPED_FUNCTIONS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            original = getattr(module, attr, None)
            if original is None:
                continue
            setattr(module, attr, self._timed(lambda *a, _label=label, **k: _label, original))
            self._restore.append(lambda m=module, n=attr, o=original: setattr(m, n, o))

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def report(self, what: str, total: float, sets: int) -> str:
        lines = [f"{what}: {total:.3f} s for {sets} sets ({total / sets * 1000:.2f} ms per set)",
                 f"{'seconds':>8} {'calls':>6} {'per set':>8}  what"]
        accounted = 0.0
        for label, secs in sorted(self.seconds.items(), key=lambda item: -item[1]):
            lines.append(f"{secs:8.3f} {self.calls[label]:6d} {self.calls[label] / sets:8.2f}  {label}")
            accounted += secs
        lines.append(f"{total - accounted:8.3f} {'':6} {'':8}  everything else (Python; psycopg's own BEGIN/COMMIT)")
        return "\n".join(lines)


def timed_breakdown(what: str, apply: Callable[[str], None], dsn: str, sets: int) -> None:
    breakdown = Breakdown()
    breakdown.install()
    try:
        started = time.perf_counter()
        apply(dsn)
        total = time.perf_counter() - started
    finally:
        breakdown.uninstall()
    print(breakdown.report(what, total, sets))


def run(apply: Callable[[str], None], floor: Callable[[str], None], dsn_factory: Callable[[str], str], sets: int,
        profile_out: Path) -> None:
    """Timed breakdowns of the engine and of the bare loop (the same timers, back to back, so they compare), then
    a cProfile run of the engine; each on a fresh database."""
    print("\nwhere the time goes (wall clock, timers around each call), the engine then the bare loop:")
    timed_breakdown("engine run", apply, dsn_factory("bench_breakdown_engine"), sets)
    timed_breakdown("bare loop run", floor, dsn_factory("bench_breakdown_floor"), sets)

    profiler = cProfile.Profile()
    dsn = dsn_factory("bench_profile")
    profiler.enable()
    apply(dsn)
    profiler.disable()
    profiler.dump_stats(profile_out)
    print(f"\ncProfile of another engine run written to {profile_out}; top 25 by cumulative time:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
