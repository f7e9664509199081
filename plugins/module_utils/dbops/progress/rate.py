"""From two readings of the same work: percent, rate per second and ETA, as one line a person reads.

Pure arithmetic on ProgressRecord readings taken at known moments (the poller's clock, not the records'
updated_at: the engine records a batch's end, and a reading between batches would otherwise show no rate).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import parse_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord


@dataclass(frozen=True)
class ProgressLine:
    record: ProgressRecord
    percent: float | None  # None when no total is known
    rate: float | None  # units per second since the first reading of this work; None before a second reading
    eta_seconds: float | None

    def to_dict(self) -> dict[str, object]:
        return {**self.record.to_dict(), "percent": self.percent, "rate": self.rate, "eta_seconds": self.eta_seconds,
                "text": self.text()}

    def text(self) -> str:
        record = self.record
        parts = [f"{record.kind} {record.name}" + (f" ({record.detail})" if record.detail else "") + ":"]
        if record.remaining is not None:
            parts.append(f"{amount(record.remaining, record.unit)} behind")
        else:
            if self.percent is not None:
                parts.append(f"{self.percent:.0f}%")
            done = amount(record.done or 0, record.unit)
            parts.append(f"{done} of ~{amount(record.total, record.unit)}" if record.total else done)
        if record.status == "done":
            parts.append("done")
            return " ".join(parts)
        if self.rate is not None:
            parts.append(f"{amount(self.rate, record.unit)}/s")
        parts.append(f"ETA {duration(self.eta_seconds)}" if self.eta_seconds is not None else "ETA unknown")
        return " ".join(parts)


def amount(value: float | None, unit: str) -> str:
    """12,345 rows; 1.5 MiB (bytes in binary units)."""
    if value is None:
        return "?"
    if unit != "bytes":
        return f"{value:,.0f} {unit}"
    size = float(value)
    for name in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or name == "TiB":
            return f"{size:.0f} {name}" if name == "B" else f"{size:.1f} {name}"
        size /= 1024
    return f"{size:.1f} TiB"  # not reached


def duration(seconds: float | None) -> str:
    """0:00:05, 1:02:03; '?' when unknown."""
    if seconds is None:
        return "?"
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def recorded_rate(record: ProgressRecord) -> float | None:
    """Units per second between the record's started_at and updated_at, when both are known and apart."""
    if not (record.started_at and record.updated_at and record.done):
        return None
    try:
        seconds = (parse_iso(record.updated_at) - parse_iso(record.started_at)).total_seconds()
    except ValueError:
        return None
    return record.done / seconds if seconds > 0 else None


def progress_line(first: tuple[float, ProgressRecord] | None, now: tuple[float, ProgressRecord]) -> ProgressLine:
    """The line for the newest reading `now`, with the rate since `first` (moment, reading) of the same work."""
    moment, record = now
    percent = None
    if record.remaining is None and record.total:
        # Estimated totals (reltuples) can be below the rows done: never show more than 100 % before the end.
        percent = min(100.0 if record.status == "done" else 99.0, 100.0 * (record.done or 0) / record.total)
    elif record.status == "done":
        percent = 100.0
    rate = eta = None
    if (first is None or moment <= first[0]) and record.done:
        # One reading only: the engine's own record says since when it has worked (started_at .. updated_at).
        rate = recorded_rate(record)
        if rate and record.total:
            eta = max(0.0, (record.total - record.done) / rate)
    elif first is not None and moment > first[0]:
        elapsed = moment - first[0]
        if record.remaining is not None and first[1].remaining is not None:
            # Catching up: the rate is how fast what is left shrinks (negative: falling further behind).
            rate = (first[1].remaining - record.remaining) / elapsed
            eta = record.remaining / rate if rate > 0 else None
        elif record.done is not None and first[1].done is not None:
            rate = (record.done - first[1].done) / elapsed
            if record.total and rate > 0:
                eta = max(0.0, (record.total - record.done) / rate)
    if record.status == "done":
        eta = 0.0
    return ProgressLine(record, percent, rate, eta)
