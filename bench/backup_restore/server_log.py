"""What a restored server's log says about its recovery: how long replay took and how fast segments arrived.

Every restore_command call happens between two "restored log file" lines, serially with replay, so the mean gap
between them is the price of one segment (fetch + replay); the contenders differ only in the fetch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \w+ \[\d+\] (?:LOG|FATAL|ERROR|PANIC):\s+(.*)$")


@dataclass
class RecoveryLog:
    segments: int = 0
    recovery_s: float | None = None  # "starting point-in-time recovery" -> "archive recovery complete"
    startup_s: float | None = None  # first line -> "starting point-in-time recovery" (history probes, ...)
    per_segment_s: float | None = None
    redo_elapsed_s: float | None = None  # PostgreSQL's own "redo done ... elapsed"

    def describe(self) -> str:
        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        return (f"{self.segments} segments restored, {fmt(self.per_segment_s)} s per segment, startup "
                f"{fmt(self.startup_s)} s, recovery until 'archive recovery complete' {fmt(self.recovery_s)} s "
                f"(redo itself {fmt(self.redo_elapsed_s)} s)")


def read_recovery_log(path: Path) -> RecoveryLog:
    result = RecoveryLog()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return result
    first = started = ready = None
    restored: list[datetime] = []
    for line in lines:
        match = LINE.match(line)
        if not match:
            continue
        moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
        message = match.group(2)
        first = first or moment
        if message.startswith("starting point-in-time recovery"):
            started = moment
        elif message.startswith("restored log file") and started is not None:
            restored.append(moment)
        elif message.startswith("archive recovery complete") and started is not None:
            ready = moment
        elif message.startswith("redo done"):
            elapsed = re.search(r"elapsed: ([\d.]+) s", message)
            if elapsed:
                result.redo_elapsed_s = float(elapsed.group(1))
    result.segments = len(restored)
    if first and started:
        result.startup_s = (started - first).total_seconds()
    if started and ready:
        result.recovery_s = (ready - started).total_seconds()
    if len(restored) > 1:
        result.per_segment_s = (restored[-1] - restored[0]).total_seconds() / (len(restored) - 1)
    return result
