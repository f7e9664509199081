"""An application-like load running alongside a contender: pgbench with small point reads and updates.

pgbench runs rate-limited (-R), as an application's traffic arrives independently of how fast the database
answers; its latency then counts from each transaction's scheduled start, so time spent queued behind a lock is
included. With --latency-limit, transactions that could not even start within the limit are logged as
``skipped`` instead of piling up; they count as slower than the limit.

pgbench is stopped with SIGALRM, the signal its own -T timer uses, so it finishes cleanly and flushes its
per-transaction logs (-l). Only transactions scheduled inside the measured window are kept.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from bench.backfill.dataset import TABLE
from bench.support.repo_paths import PG_BIN_DIR

# A point read and a point update of a column the backfill does not touch. It does not read the backfilled
# column, which does not exist yet when the load starts (the migration adds it).
T = TypeVar("T")

SCRIPT = (
    "\\set id random(1, :rows)\n"
    f"SELECT amount, note FROM {TABLE} WHERE id = :id;\n"
    f"UPDATE {TABLE} SET hits = hits + 1 WHERE id = :id;\n"
)


@dataclass
class LatencyStats:
    transactions: int
    skipped: int
    p50_ms: float
    p99_ms: float  # math.inf when more than 1% were skipped (later than the latency limit)
    max_ms: float
    seconds: float

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


@dataclass
class PgbenchSettings:
    clients: int = 4
    threads: int = 2
    rate: int = 1000  # transactions per second, all clients together; 0 = as fast as possible
    latency_limit_ms: int = 1000


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class PgbenchLoad:
    def __init__(self, dsn: str, rows: int, settings: PgbenchSettings, script: str = SCRIPT) -> None:
        self.dsn = dsn
        self.rows = rows
        self.settings = settings
        self.script = script  # another benchmark's own transaction (it gets :rows like this one)
        self.work = Path(tempfile.mkdtemp(prefix="dbops-bench-pgbench-"))
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self, settle_s: float = 1.0) -> None:
        parts = urlsplit(self.dsn)
        script = self.work / "load.sql"
        script.write_text(self.script)
        argv = [str(PG_BIN_DIR / "pgbench"), "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
                "-U", unquote(parts.username or "postgres"), "-n", "-M", "prepared",
                "-c", str(self.settings.clients), "-j", str(self.settings.threads), "-T", "86400",
                "-f", str(script), "-D", f"rows={self.rows}", "-l", "--log-prefix", str(self.work / "tx")]
        if self.settings.rate:
            argv += ["-R", str(self.settings.rate), "--latency-limit", str(self.settings.latency_limit_ms)]
        argv.append(unquote(parts.path.lstrip("/")))
        env = dict(os.environ, PGPASSWORD=unquote(parts.password or ""))
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(settle_s)  # connections made and the schedule running before the window opens
        if self.process.poll() is not None:
            raise RuntimeError(f"pgbench exited early:\n{self.process.communicate()[0]}")

    def stop(self, drain_s: float = 2.0) -> None:
        """Let transactions scheduled in the window finish (or be logged as skipped), then stop pgbench."""
        assert self.process is not None
        time.sleep(drain_s)
        self.process.send_signal(signal.SIGALRM)
        self.output = self.process.communicate(timeout=600)[0]
        if self.process.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{self.output}")

    def stats(self, window_start: float, window_end: float) -> LatencyStats:
        """Latency of the transactions scheduled between window_start and window_end (time.time() values)."""
        latencies: list[float] = []
        skipped = 0
        for log in self.work.glob("tx.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                finished = int(fields[4]) + int(fields[5]) / 1e6
                if fields[2] == "skipped":
                    if window_start <= finished <= window_end + self.settings.latency_limit_ms / 1000:
                        skipped += 1
                    continue
                latency_s = int(fields[2]) / 1e6
                scheduled = finished - latency_s
                if window_start <= scheduled <= window_end:
                    latencies.append(latency_s * 1000)
        latencies.sort()
        total = len(latencies) + skipped
        # Skipped transactions were later than the limit: they sort after every completed one.
        ranked = latencies + [math.inf] * skipped
        return LatencyStats(
            transactions=total,
            skipped=skipped,
            p50_ms=percentile(ranked, 0.50),
            p99_ms=percentile(ranked, 0.99),
            max_ms=math.inf if skipped else (latencies[-1] if latencies else math.nan),
            seconds=window_end - window_start,
        )

    def cleanup(self) -> None:
        for path in self.work.iterdir():
            path.unlink()
        self.work.rmdir()


def measure(dsn: str, rows: int, settings: PgbenchSettings, action: Callable[[], T]) -> tuple[T, LatencyStats]:
    """Run action() with pgbench alongside; returns action's result and pgbench's latency during it."""
    load = PgbenchLoad(dsn, rows, settings)
    load.start()
    try:
        window_start = time.time()
        result = action()
        window_end = time.time()
    finally:
        load.stop()
    stats = load.stats(window_start, window_end)
    load.cleanup()
    return result, stats
