"""One reading of a replica's lag, and THE rule for "caught up" that every reader's reading is judged by.

Positions are integers that grow with the source's history: LSNs for PostgreSQL (bytes of WAL), cluster times for
MongoDB (seconds << 32 | increment, the order of bson.Timestamp). lag_bytes is only defined for PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LagReading:
    """What one poll saw: the replica's position, the source's newest position and the lag between them.

    lag_seconds is None when the server gives no replay time (a replica that is behind but has no measured lag).
    """

    replica_position: int
    source_position: int
    lag_bytes: int | None
    lag_seconds: float | None
    replica_text: str
    source_text: str


@dataclass(frozen=True)
class CatchUpRule:
    """When a reading counts as caught up: at or past target (a position on the source), or within the limits.

    With a target the limits are not looked at: a position taken after the fence is the only exact test (an idle
    source keeps writing WAL for checkpoints and heartbeats, so its lag never reads 0).
    """

    target: int | None = None
    max_lag_bytes: int | None = None
    max_lag_seconds: float | None = None

    def satisfied_by(self, reading: LagReading) -> bool:
        if self.target is not None:
            return reading.replica_position >= self.target
        return _within(reading.lag_bytes, self.max_lag_bytes) and _within(reading.lag_seconds, self.max_lag_seconds)

    def remaining(self, reading: LagReading) -> int:
        """Position units still to go to the target (0 without a target or once past it)."""
        if self.target is None:
            return 0
        return max(0, self.target - reading.replica_position)


def _within(lag: float | None, limit: float | None) -> bool:
    """No limit, or a known lag at most the limit (an unknown lag never passes a limit)."""
    return limit is None or (lag is not None and lag <= limit)
