"""The peer: the plain manual PgBouncer switch an operator runs today, each step a psql (or sed) process.

Preparation (not timed): blue's schema into green (pg_dump --schema-only | psql), a publication FOR ALL TABLES on
blue, a subscription on green, and a wait until every table is copied and streaming.

The switch (timed from the PAUSE command to the RESUME command's return):
  1. PAUSE the database on PgBouncer's admin console (waits for running transactions; new ones queue);
  2. take blue's position, pg_current_wal_lsn(), and loop until the subscription's slot on blue has
     confirmed_flush_lsn at or past it (green has applied everything blue committed);
  3. setval every sequence on green past blue's value (sequences are not replicated: without this the first
     INSERT on green would take a key the subscription already brought over);
  4. retarget the [databases] entry to green (sed -i on the ini file);
  5. RELOAD; 6. RESUME.
Then (not in the pause) the subscription is disabled, as the operator would to stop listening to blue.

It fences nothing: a client connected to blue directly could still write there; PAUSE is the only barrier.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from bench.support.repo_paths import PG_BIN_DIR

FLOW = "bench_manual_switch"
SEQUENCE_HEADROOM = 1000
# The operator's loop: ask again after this long (the procedure as measured in the issue used a short sleep).
POLL_S = 0.01


@dataclass
class ManualSwitch:
    blue_dsn: str
    green_dsn: str
    admin_dsn: str  # PgBouncer's admin console
    ini: str
    database: str  # the [databases] entry clients connect to
    blue_port: int
    green_port: int
    poll_s: float = POLL_S
    name: str = "manual: PAUSE, psql LSN loop, sed, RELOAD, RESUME"
    steps: list[dict] = field(default_factory=list)
    pause_ms: float | None = None
    polls: int = 0

    def _psql(self, dsn: str, command: str) -> str:
        done = subprocess.run([str(PG_BIN_DIR / "psql"), dsn, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", command],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql {command!r} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def prepare(self, timeout_s: float = 120) -> None:
        dump = subprocess.run([str(PG_BIN_DIR / "pg_dump"), "--schema-only", "--no-publications",
                               "--no-subscriptions", self.blue_dsn], capture_output=True, text=True, check=True)
        subprocess.run([str(PG_BIN_DIR / "psql"), self.green_dsn, "-Xq", "-v", "ON_ERROR_STOP=1"],
                       input=dump.stdout, capture_output=True, text=True, check=True)
        self._psql(self.blue_dsn, f"CREATE PUBLICATION {FLOW} FOR ALL TABLES")
        blue_conninfo = self.blue_dsn  # the same host: green reaches blue as the benchmark does
        self._psql(self.green_dsn, f"CREATE SUBSCRIPTION {FLOW} CONNECTION '{blue_conninfo}' PUBLICATION {FLOW}")
        deadline = time.monotonic() + timeout_s
        while self._psql(self.green_dsn, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'") != "0":
            if time.monotonic() > deadline:
                raise TimeoutError("the manual subscription's initial copy did not finish")
            time.sleep(0.2)

    def _step(self, name: str, action) -> None:
        started = time.monotonic()
        action()
        self.steps.append({"name": name, "duration_ms": round((time.monotonic() - started) * 1000, 1)})

    def _wait_for_green(self) -> None:
        target = self._psql(self.blue_dsn, "SELECT pg_current_wal_lsn()")
        check = (f"SELECT confirmed_flush_lsn >= '{target}'::pg_lsn FROM pg_replication_slots "
                 f"WHERE slot_name = '{FLOW}'")
        while self._psql(self.blue_dsn, check) != "t":
            self.polls += 1
            time.sleep(self.poll_s)

    def _advance_sequences(self) -> None:
        statements = self._psql(self.blue_dsn, (
            "SELECT string_agg(format('SELECT setval(%L, %s);', quote_ident(schemaname) || '.' || "
            f"quote_ident(sequencename), coalesce(last_value, 0) + {SEQUENCE_HEADROOM}), ' ') FROM pg_sequences"))
        if statements:
            self._psql(self.green_dsn, statements)

    def _retarget(self) -> None:
        subprocess.run(["sed", "-i", "-E", f"/^{self.database}[[:space:]]*=/ s/port=[0-9]+/port={self.green_port}/",
                        self.ini], check=True)

    def switch(self) -> None:
        started = time.monotonic()
        self._step("PAUSE", lambda: self._psql(self.admin_dsn, f"PAUSE {self.database}"))
        self._step("wait for green's LSN (psql loop)", self._wait_for_green)
        self._step("setval sequences on green", self._advance_sequences)
        self._step("retarget [databases] (sed -i)", self._retarget)
        self._step("RELOAD", lambda: self._psql(self.admin_dsn, "RELOAD"))
        self._step("RESUME", lambda: self._psql(self.admin_dsn, f"RESUME {self.database}"))
        self.pause_ms = (time.monotonic() - started) * 1000
        # After RESUME: green no longer follows blue.
        self._psql(self.green_dsn, f"ALTER SUBSCRIPTION {FLOW} DISABLE")
