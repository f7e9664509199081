"""The PostgreSQL application during the switch: `pgbench -c 8` through PgBouncer, as the application's role,
each transaction one INSERT into a table whose key comes from a sequence.

Simple query protocol (-M simple): PgBouncer in transaction pooling hands each transaction to whichever server
connection is free, so prepared statements made on one would be missing on the next. Unthrottled by default
(--rate 0): every client sends its next transaction as soon as the previous one commits, so a gap between two
commits is the switch's, not the schedule's.

A failed transaction is either one pgbench counts as failed (its summary) or one on which a client aborted:
pgbench 15 stops a client at its first error other than a serialization failure or deadlock, and says so.
pgbench is stopped with SIGALRM, the signal of its own -T timer, so it ends cleanly and flushes its logs (-l).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bench.support.repo_paths import PG_BIN_DIR

# Marks the rows pgbench inserts, so that the rows kept on the new side can be counted against its commits.
ITEM = "pgbench"


def script(table: str) -> str:
    return f"INSERT INTO {table} (item) VALUES ('{ITEM}');\n"


@dataclass
class PgbenchOutcome:
    ends: list[float]  # time.time() of every commit pgbench logged, sorted
    logged_failed: int  # transactions its log marks "failed"
    summary_failed: int  # "number of failed transactions" of its summary
    aborted_clients: list[str] = field(default_factory=list)  # pgbench's "client N aborted ..." lines
    ends_by_client: dict[int, list[float]] = field(default_factory=dict)  # each client's commits, sorted
    returncode: int = 0
    output: str = ""

    @property
    def committed(self) -> int:
        return len(self.ends)

    @property
    def failed(self) -> int:
        """Every transaction a client saw fail: counted as failed, or the one each aborted client stopped on."""
        return max(self.logged_failed, self.summary_failed) + len(self.aborted_clients)


class PgbenchLoad:
    def __init__(self, dsn: str, table: str, *, clients: int = 8, threads: int = 2, rate: int = 0) -> None:
        self.dsn, self.table = dsn, table
        self.clients, self.threads, self.rate = clients, threads, rate
        self.work = Path(tempfile.mkdtemp(prefix="dbops-bench-cutover-pgbench-"))
        self.process: subprocess.Popen[str] | None = None

    def start(self, settle_s: float = 1.0) -> PgbenchLoad:
        parts = urlsplit(self.dsn)
        path = self.work / "insert.sql"
        path.write_text(script(self.table))
        argv = [str(PG_BIN_DIR / "pgbench"), "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
                "-U", unquote(parts.username or "postgres"), "-n", "-M", "simple",
                "-c", str(self.clients), "-j", str(self.threads), "-T", "86400",
                "-f", str(path), "-l", "--log-prefix", str(self.work / "tx")]
        if self.rate:
            argv += ["-R", str(self.rate)]
        argv.append(unquote(parts.path.lstrip("/")))
        env = dict(os.environ, PGPASSWORD=unquote(parts.password or ""))
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(settle_s)  # every client connected and committing before anything is measured
        if self.process.poll() is not None:
            raise RuntimeError(f"pgbench exited early:\n{self.process.communicate()[0]}")
        return self

    def stop(self) -> PgbenchOutcome:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGALRM)
        output = self.process.communicate(timeout=300)[0]
        by_client: dict[int, list[float]] = {}
        logged_failed = 0
        for log in self.work.glob("tx.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if fields[2] == "failed":
                    logged_failed += 1
                elif fields[2] != "skipped":
                    by_client.setdefault(int(fields[0]), []).append(int(fields[4]) + int(fields[5]) / 1e6)
        for client_ends in by_client.values():
            client_ends.sort()
        ends = sorted(at for client_ends in by_client.values() for at in client_ends)
        summary = re.search(r"number of failed transactions: (\d+)", output)
        return PgbenchOutcome(ends=ends, logged_failed=logged_failed,
                              summary_failed=int(summary.group(1)) if summary else 0,
                              aborted_clients=[line for line in output.splitlines() if " aborted " in line],
                              ends_by_client=by_client, returncode=self.process.returncode, output=output)

    def cleanup(self) -> None:
        for path in self.work.iterdir():
            path.unlink()
        self.work.rmdir()
