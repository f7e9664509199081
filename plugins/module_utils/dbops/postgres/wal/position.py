"""LSNs, WAL segment names and timeline histories, computed the way PostgreSQL does.

A segment name is TTTTTTTTLLLLLLLLSSSSSSSS: timeline, then the segment number split into "log" (high part) and
"seg" (low part) with 0x100000000 / segment_size segments per log. Archive positions (see storage/catalog.py) are
the 16 hex digits after the timeline, so they sort in WAL order across timelines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError

DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024
SEGMENT_NAME = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
HISTORY_NAME = re.compile(r"^([0-9A-F]{8})\.history$")
LSN_TEXT = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def parse_lsn(text: str) -> int:
    match = LSN_TEXT.match(text.strip())
    if not match:
        raise RestoreError(f"invalid LSN {text!r}: expected the form 0/3000060")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def segments_per_log(segment_size: int) -> int:
    return 0x100000000 // segment_size


def segment_number(lsn: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    return lsn // segment_size


def segment_name(timeline: int, segno: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    per_log = segments_per_log(segment_size)
    return f"{timeline:08X}{segno // per_log:08X}{segno % per_log:08X}"


def parse_segment_name(name: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> tuple[int, int]:
    """(timeline, segment number) of a 24-hex-digit segment name."""
    match = SEGMENT_NAME.match(name)
    if not match:
        raise RestoreError(f"not a WAL segment name: {name!r}")
    timeline, log, seg = (int(part, 16) for part in match.groups())
    return timeline, log * segments_per_log(segment_size) + seg


def history_name(timeline: int) -> str:
    return f"{timeline:08X}.history"


def position(name: str) -> str:
    """Archive position of a segment name: its 16 hex digits after the timeline."""
    return name[8:24]


def position_of_lsn(lsn: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    return position(segment_name(0, segment_number(lsn, segment_size), segment_size))


@dataclass(frozen=True)
class TimelineSwitch:
    """One line of a timeline history file: parent timeline `timeline` ended at `switch_lsn`."""

    timeline: int
    switch_lsn: int


def parse_history(text: str) -> list[TimelineSwitch]:
    """Lines '<parent tli>\t<switch LSN>\t<reason>' of <tli>.history, oldest first."""
    switches = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        switches.append(TimelineSwitch(int(fields[0]), parse_lsn(fields[1])))
    return switches


@dataclass(frozen=True)
class TimelinePath:
    """Which timeline holds the WAL at each position, for recovery into `target` (from its history)."""

    target: int
    switches: tuple[TimelineSwitch, ...]

    def timeline_at(self, lsn: int) -> int:
        for switch in self.switches:
            if lsn < switch.switch_lsn:
                return switch.timeline
        return self.target

    def segment_timeline(self, segno: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
        """Timeline whose copy of segment segno recovery reads: the newest one that began at or before its end.

        The segment holding a switch point exists on both timelines; recovery reads the new timeline's copy.
        """
        end = (segno + 1) * segment_size - 1
        return self.timeline_at(end)

    def contains(self, timeline: int) -> bool:
        return timeline == self.target or any(s.timeline == timeline for s in self.switches)


def required_segments(path: TimelinePath, start_lsn: int, end_lsn: int,
                      segment_size: int = DEFAULT_SEGMENT_SIZE) -> list[str]:
    """Segment names recovery needs to replay from start_lsn to end_lsn along the timeline path."""
    first = segment_number(start_lsn, segment_size)
    last = segment_number(max(end_lsn - 1, start_lsn), segment_size)
    return [segment_name(path.segment_timeline(segno, segment_size), segno, segment_size)
            for segno in range(first, last + 1)]
