"""THE wait until a replica has caught up: every replica kind is polled through wait_for_catch_up.

The reader is called once per poll interval until the rule is satisfied or the timeout has passed; the queries of
the first poll are recorded (the later polls repeat them). Check mode reads once and never waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.lag import CatchUpRule, LagReading

Reader = Callable[[list[str]], LagReading]


class ReplicationTimeout(DbopsError):
    """The replica did not catch up within the timeout; the last reading is attached."""

    def __init__(self, message: str, reading: LagReading, waited_ms: int) -> None:
        super().__init__(message)
        self.reading = reading
        self.waited_ms = waited_ms


@dataclass(frozen=True)
class WaitOutcome:
    reading: LagReading
    caught_up: bool
    waited_ms: int
    polls: int


def wait_for_catch_up(read: Reader, rule: CatchUpRule, *, timeout: float, poll_interval: float,
                      queries: list[str], check_mode: bool = False, describe: str = "the replica",
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> WaitOutcome:
    started = clock()
    reading = read(queries)
    polls = 1
    while not rule.satisfied_by(reading):
        waited = clock() - started
        if check_mode:
            return WaitOutcome(reading, False, 0, polls)
        if waited >= timeout:
            waited_ms = round(waited * 1000)
            raise ReplicationTimeout(
                f"{describe} did not catch up within {timeout:g}s: at {reading.replica_text}, source at "
                f"{reading.source_text}, lag {_lag_text(reading, rule)}", reading, waited_ms)
        sleep(min(poll_interval, max(0.0, timeout - waited)))
        reading = read([])
        polls += 1
    waited_ms = 0 if check_mode else round((clock() - started) * 1000)
    return WaitOutcome(reading, True, waited_ms, polls)


def _lag_text(reading: LagReading, rule: CatchUpRule) -> str:
    parts = []
    if rule.target is not None:
        parts.append("short of the target")
    if reading.lag_bytes is not None:
        parts.append(f"{reading.lag_bytes} bytes")
    parts.append(f"{reading.lag_seconds:g}s" if reading.lag_seconds is not None else "unknown seconds")
    return ", ".join(parts)
