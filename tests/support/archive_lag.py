"""How far WAL archiving is behind while pgbench writes: segments PostgreSQL has finished but not yet archived.

"Behind" is the number of pg_wal/archive_status/*.ready files: a segment gets one when PostgreSQL has filled it and
loses it when archive_command has exited 0 for it. One segment behind means the one being archived now.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

PGBENCH = str(Path(os.environ.get("DBOPS_PG_BIN_DIR", "/usr/lib/postgresql/15/bin")) / "pgbench")


def segments_behind(datadir: Path) -> int:
    try:
        return sum(1 for name in os.listdir(datadir / "pg_wal" / "archive_status") if name.endswith(".ready"))
    except FileNotFoundError:
        return 0


@dataclass
class LagSampler:
    """Samples segments_behind every interval seconds on a thread, from start() to stop()."""

    datadir: Path
    interval: float = 0.2
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> LagSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(segments_behind(self.datadir))
            self._stop.wait(self.interval)

    def stop(self) -> LagSampler:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self

    @property
    def worst(self) -> int:
        return max(self.samples, default=0)

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0

    def share_above(self, limit: int) -> float:
        """The fraction of samples with more than limit segments behind."""
        return sum(1 for behind in self.samples if behind > limit) / len(self.samples) if self.samples else 0.0

    def longest_above(self, limit: int) -> float:
        """Seconds of the longest stretch of consecutive samples with more than limit segments behind."""
        longest = current = 0
        for behind in self.samples:
            current = current + 1 if behind > limit else 0
            longest = max(longest, current)
        return longest * self.interval


def pgbench(dsn: str, *args: str, timeout: float | None = None) -> str:
    """Run pgbench against dsn (a postgresql:// URL with the password); its output."""
    parts = urlsplit(dsn)
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    argv = [PGBENCH, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", unquote(parts.username or "postgres"), *args, unquote(parts.path.lstrip("/")) or "postgres"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return done.stdout + done.stderr


def pgbench_under_watch(dsn: str, datadir: Path, clients: int, seconds: int) -> tuple[LagSampler, float]:
    """pgbench -c clients for seconds with the lag sampled; (sampler, segments of WAL written per second)."""
    start_position = wal_position_bytes(dsn)
    sampler = LagSampler(datadir).start()
    started = time.monotonic()
    try:
        pgbench(dsn, "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), timeout=seconds + 120)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - started
    written = wal_position_bytes(dsn) - start_position
    return sampler, written / (16 * 1024 * 1024) / elapsed


def wal_position_bytes(dsn: str) -> int:
    """The server's current WAL insert position, in bytes."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("select pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0]) if row else 0
