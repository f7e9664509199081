"""One execution of a switch: its options, its open sides, the state it records step by step, and its clock.

begin() records a step's intent in the state (then the crash test hook may end the process); done() counts it
done (written with the next intent). While PgBouncer holds the clients (PAUSE -> RESUME) the intents go to the
PostgreSQL copies only, a commit on each side, and the next write after RESUME brings every copy up to date (a
switch runs only with every copy reachable, and the newest generation wins when they are read back). The budget
(max_pause_ms) runs from the first fence, MongoDB's or PostgreSQL's, and is checked after each budgeted step; each
step's time includes its intent's write.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover import steps
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.crash_test_hook import crash_if_asked
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SwitchSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import OpenSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import CutoverState
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state_store import StateStore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.traffic import TrafficSettings

DEFAULT_MAX_PAUSE_MS = 2000
DEFAULT_MAX_LAG_BYTES = 1024 * 1024
DEFAULT_SEQUENCE_HEADROOM = 1000
DEFAULT_SYNC_TIMEOUT_S = 300.0
# Undo and completion are not bounded by the pause's budget (they end it): each admin command gets this long.
RECOVERY_TIMEOUT_S = 10.0


class PauseTooLong(DbopsError):
    """The pause passed max_pause_ms at a step: the switch is undone."""

    def __init__(self, step: str, elapsed_ms: float, limit_ms: int) -> None:
        super().__init__(f"the pause reached {elapsed_ms:.0f} ms at step {step} (max_pause_ms {limit_ms})")
        self.step = step


@dataclass(frozen=True)
class SwitchOptions:
    name: str = "default"
    direction: str = "to_green"
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    max_pause_ms: int = DEFAULT_MAX_PAUSE_MS
    max_lag_bytes: int = DEFAULT_MAX_LAG_BYTES
    app_roles: tuple[str, ...] = ()
    app_users: tuple[str, ...] = ()
    sequence_headroom: int = DEFAULT_SEQUENCE_HEADROOM
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT_S
    probe_dsn: str | None = None


def run_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


@dataclass
class SwitchRun:
    options: SwitchOptions
    sides: OpenSides
    store: StateStore
    state: CutoverState
    switch: SwitchSides
    queries: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)
    budget_started: float | None = None
    pause_started: float | None = None
    pause_ended: bool = False
    pause_ms: float | None = None
    mongodb_fenced_at: float | None = None
    mongodb_pause_ms: float | None = None
    sequences: list[dict[str, Any]] = field(default_factory=list)
    pgbouncer_console: Any = None  # the admin connection opened before PAUSE (traffic.open_console)
    _current: dict[str, Any] | None = None

    @property
    def postgres(self) -> bool:
        return bool(self.sides.pg)

    @property
    def mongodb(self) -> bool:
        return bool(self.sides.mongo)

    @property
    def positions(self) -> dict[str, Any]:
        return self.state.positions

    @property
    def paused(self) -> bool:
        return self.pause_started is not None and not self.pause_ended

    def begin(self, step: str) -> None:
        started, started_at = time.monotonic(), to_iso(utc_now())
        self.state.begin_step(step)
        self.store.write(self.state, postgres_only=self.paused and self.postgres)
        crash_if_asked(step)
        self._current = {"name": step, "started_at": started_at, "_t0": started, "ok": False}

    def done(self, step: str) -> None:
        self.state.finish_step(step)
        self._close_step(ok=True)

    def failed(self) -> None:
        self._close_step(ok=False)

    def _close_step(self, ok: bool) -> None:
        if self._current is None:
            return
        entry = self._current
        started = entry.pop("_t0")
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        entry["ok"] = ok
        self.steps.append(entry)
        self.state.timings.append(dict(entry))
        self._current = None

    def close_console(self) -> None:
        if self.pgbouncer_console is not None:
            self.pgbouncer_console.close()
            self.pgbouncer_console = None

    def elapsed_ms(self) -> float:
        return 0.0 if self.budget_started is None else (time.monotonic() - self.budget_started) * 1000

    def remaining_s(self) -> float:
        """What is left of the budget, in seconds (the bound of every wait once the first fence is up)."""
        return max(0.0, (self.options.max_pause_ms - self.elapsed_ms()) / 1000)

    def check_budget(self, step: str) -> None:
        if self.budget_started is not None and step in steps.BUDGETED:
            elapsed = self.elapsed_ms()
            if elapsed > self.options.max_pause_ms:
                raise PauseTooLong(step, elapsed, self.options.max_pause_ms)

    def start_budget_clock(self) -> None:
        if self.budget_started is None:
            self.budget_started = time.monotonic()

    def start_pause_clock(self) -> None:
        """PgBouncer's PAUSE: the PostgreSQL pause (and the budget, when MongoDB did not start it)."""
        self.start_budget_clock()
        if self.pause_started is None:
            self.pause_started = time.monotonic()

    def end_pause_clock(self) -> None:
        if self.pause_started is not None and not self.pause_ended:
            self.pause_ms = round((time.monotonic() - self.pause_started) * 1000, 1)
            self.pause_ended = True
