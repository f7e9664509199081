"""The application's write load during a cutover test: pgbench through PgBouncer and a MongoDB writer through
HAProxy, both running for a fixed time while the playbook prepares, syncs and switches.

- PostgreSQL: pgbench with a custom script that inserts into a table whose key comes from a sequence (the
  sequence must be set past blue's value on green, or the inserts after the switch fail). Each client numbers its
  transactions (pgbench variable ``n``, the same number pgbench's per-transaction log gives it), so every row names
  the transaction that wrote it, ``load-<client>-<n>``. The per-transaction log (``-l``) lists the transactions
  pgbench saw commit, with the time each one ended: those are the acknowledged writes and the commit times.
- MongoDB: a thread inserting ``{_id: "load-<n>"}`` one at a time; a write that fails (the fence revokes the
  application's write roles on the old side for the length of the pause) is retried with the same ``_id`` until
  it is acknowledged or ``write_deadline`` passes (then it counts as failed). A duplicate key on a retry means an
  earlier attempt was applied: acknowledged.

Afterwards `check` reads the side that should be active and lists every acknowledged write missing there, and
the result gives the largest gap between two consecutive commits seen by the clients.

Both run until `stop` (or for at most ``duration`` seconds). pgbench is stopped with SIGALRM, the signal its own
``-T`` timer uses: it then ends like a timed run, with its log complete (any other signal loses the end of the
buffered log).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PGBENCH = os.environ.get("DBOPS_PGBENCH", str(Path(os.environ.get("DBOPS_PG_BIN_DIR",
                                                                  "/usr/lib/postgresql/15/bin")) / "pgbench"))
PREFIX = "load"
# pgbench's per-transaction log line: client_id transaction_no time script_no time_epoch time_us [...]
LOG_LINE = re.compile(r"^(\d+) (\d+) (\d+|failed|skipped) \d+ (\d+) (\d+)")


def largest_gap_ms(times: list[float]) -> float:
    """The longest wait between two consecutive commits, all clients together (seconds in, milliseconds out)."""
    ordered = sorted(times)
    return max(((b - a) * 1000 for a, b in zip(ordered, ordered[1:], strict=False)), default=0.0)


@dataclass
class WriteLog:
    """What one writer saw: the writes acknowledged (ids) with their commit times, and what failed."""

    acknowledged: list[str] = field(default_factory=list)
    commit_times: list[float] = field(default_factory=list)
    failed: int = 0  # transactions (or writes) that never committed
    errors: list[str] = field(default_factory=list)  # the messages, a few of them

    @property
    def largest_gap_ms(self) -> float:
        return largest_gap_ms(self.commit_times)

    def summary(self) -> dict:
        return {"acknowledged": len(self.acknowledged), "failed": self.failed,
                "largest_gap_ms": round(self.largest_gap_ms, 1), "errors": self.errors[:5],
                "first_commit": min(self.commit_times, default=None),
                "last_commit": max(self.commit_times, default=None)}


@dataclass
class PgbenchLoad:
    """pgbench -f <script> through PgBouncer; `dsn` is the application's, to PgBouncer's database."""

    dsn: str
    work_dir: Path
    duration: int
    clients: int = 4
    rate: int = 200  # transactions per second, all clients together: steady, and light on a small machine
    table: str = "orders"
    column: str = "item"
    tag: str = PREFIX  # the rows' prefix: two loads on the same table tell their writes apart
    process: subprocess.Popen | None = None
    log: WriteLog = field(default_factory=WriteLog)

    @property
    def script(self) -> Path:
        return self.work_dir / "cutover_load.sql"

    def start(self) -> PgbenchLoad:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # \set runs before the INSERT in every transaction: n is the client's transaction number.
        self.script.write_text(f"\\set n :n + 1\n"
                               f"INSERT INTO {self.table} ({self.column}) "
                               f"VALUES ('{self.tag}-' || :client_id || '-' || :n);\n")
        argv = [PGBENCH, "-n", "-f", str(self.script), "-c", str(self.clients), "-j", str(min(self.clients, 2)),
                "-T", str(self.duration), "-R", str(self.rate), "-D", "n=0", "-l",
                f"--log-prefix={self.work_dir / 'pgbench_log'}", self.dsn]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        cwd=self.work_dir)
        return self

    def stop(self) -> WriteLog:
        """End the run now, as if -T had expired, and read what it logged."""
        assert self.process is not None, "start() first"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGALRM)
        return self.wait()

    def wait(self) -> WriteLog:
        assert self.process is not None, "start() first"
        out, err = self.process.communicate(timeout=self.duration + 60)
        for path in sorted(self.work_dir.glob("pgbench_log*")):
            for line in path.read_text().splitlines():
                match = LOG_LINE.match(line)
                if not match:
                    continue
                client, number, latency, epoch, micros = match.groups()
                if not latency.isdigit():
                    self.log.failed += 1
                    continue
                self.log.acknowledged.append(f"{self.tag}-{client}-{number}")
                self.log.commit_times.append(int(epoch) + int(micros) / 1e6)
        # A client whose connection broke stops ("client N aborted in command ..."): its transaction failed.
        aborted = re.findall(r"client \d+ aborted.*", err)
        self.log.failed += len(aborted)
        reported = re.search(r"number of failed transactions: (\d+)", out)
        if reported and int(reported.group(1)) > 0:
            self.log.errors.append(f"pgbench: {reported.group(0)}")
        self.log.errors += aborted
        if self.process.returncode != 0 and not aborted:
            self.log.errors.append(f"pgbench exited {self.process.returncode}: {err.strip()[-500:]}")
        return self.log

    def missing_on(self, dsn: str) -> list[str]:
        """The acknowledged writes not in the table of the database at dsn (a superuser's, direct)."""
        import psycopg
        from psycopg import sql

        query = sql.SQL("SELECT {column} FROM {table} WHERE {column} LIKE %s").format(
            column=sql.Identifier(self.column), table=sql.Identifier(self.table))
        with psycopg.connect(dsn) as conn:
            present = {row[0] for row in conn.execute(query, (f"{self.tag}-%",))}
        return [write for write in self.log.acknowledged if write not in present]


@dataclass
class MongoWriter:
    """Inserts into `collection` through `uri` (HAProxy, as the application's user), one write at a time."""

    uri: str
    database: str
    duration: float
    collection: str = "cutover_load"
    interval: float = 0.005
    write_deadline: float = 30.0  # a write not acknowledged after this long is given up (and counts as failed)
    retry_pause: float = 0.01
    tag: str = PREFIX  # the documents' _id prefix
    # An application that opens a new client after a failed write (a server may hold a connection's roles from
    # when it authenticated); off, the writer keeps one client, as a plain driver user does.
    reconnect_after_error: bool = False
    log: WriteLog = field(default_factory=WriteLog)
    thread: threading.Thread | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    error_count: int = 0  # failed attempts that a retry then got through

    def start(self) -> MongoWriter:
        self.thread = threading.Thread(target=self._run, name="cutover-mongo-writer", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        import pymongo
        from pymongo.errors import DuplicateKeyError, PyMongoError

        def connect() -> pymongo.MongoClient:
            return pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000,
                                       socketTimeoutMS=5000)

        client = connect()
        target = client[self.database][self.collection]
        end = time.monotonic() + self.duration
        number = 0
        try:
            while time.monotonic() < end and not self.stop_event.is_set():
                number += 1
                doc_id = f"{self.tag}-{number}"
                give_up = time.monotonic() + self.write_deadline
                while True:
                    try:
                        target.insert_one({"_id": doc_id, "n": number})
                        break
                    except DuplicateKeyError:
                        break  # an earlier attempt of this very write was applied
                    except PyMongoError as exc:
                        self.error_count += 1
                        if len(self.log.errors) < 20:
                            self.log.errors.append(f"{doc_id}: {type(exc).__name__}: {str(exc)[:200]}")
                        if time.monotonic() > give_up:
                            self.log.failed += 1
                            doc_id = ""
                            break
                        time.sleep(self.retry_pause)
                        if self.reconnect_after_error:
                            client.close()
                            client = connect()
                            target = client[self.database][self.collection]
                if doc_id:
                    self.log.acknowledged.append(doc_id)
                    self.log.commit_times.append(time.time())
                time.sleep(self.interval)
        finally:
            client.close()

    def wait(self) -> WriteLog:
        assert self.thread is not None, "start() first"
        self.thread.join(timeout=self.duration + self.write_deadline + 30)
        return self.log

    def stop(self) -> WriteLog:
        self.stop_event.set()
        return self.wait()

    def missing_on(self, uri: str) -> list[str]:
        """The acknowledged writes not in the collection of the server at uri (an administrator's, direct)."""
        import pymongo

        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            present = {doc["_id"] for doc in client[self.database][self.collection].find(
                {"_id": {"$regex": f"^{re.escape(self.tag)}-"}}, {"_id": 1})}
        return [write for write in self.log.acknowledged if write not in present]


@dataclass
class CutoverLoad:
    """Both writers together, started and waited for as one."""

    postgres: PgbenchLoad | None = None
    mongodb: MongoWriter | None = None

    def start(self) -> CutoverLoad:
        for writer in (self.postgres, self.mongodb):
            if writer is not None:
                writer.start()
        return self

    def wait(self) -> dict:
        """Wait until both writers have run for their duration; their summaries."""
        return self._finish(stop=False)

    def stop(self) -> dict:
        """Stop both writers now; their summaries."""
        return self._finish(stop=True)

    def _finish(self, stop: bool) -> dict:
        result = {}
        if stop and self.mongodb is not None:
            self.mongodb.stop_event.set()
        if self.postgres is not None:
            result["postgres"] = (self.postgres.stop() if stop else self.postgres.wait()).summary()
        if self.mongodb is not None:
            result["mongodb"] = {**self.mongodb.wait().summary(), "retried_errors": self.mongodb.error_count}
        return result

    def check(self, *, postgres_dsn: str | None = None, mongodb_uri: str | None = None) -> dict[str, list[str]]:
        """The acknowledged writes missing on the side given (each list empty when nothing was lost)."""
        missing: dict[str, list[str]] = {}
        if self.postgres is not None and postgres_dsn:
            missing["postgres"] = self.postgres.missing_on(postgres_dsn)
        if self.mongodb is not None and mongodb_uri:
            missing["mongodb"] = self.mongodb.missing_on(mongodb_uri)
        return missing
