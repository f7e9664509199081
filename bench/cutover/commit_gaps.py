"""The figure the clients see: the largest gap between two consecutive commits, all clients together.

A switch that pauses the traffic shows up as a stretch of time in which no client got a commit back; the largest
such stretch that overlaps the switch (from the command's start until shortly after it returned) is the
interruption the application saw. The same figure taken over the seconds before the switch shows what the load
alone does on this machine (a loaded machine has gaps of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

# Transactions held up by the switch finish just after it returns: a gap that ends this long after the command
# returned still belongs to the switch.
AFTER_S = 1.0


@dataclass
class Gap:
    ms: float  # the largest gap between two consecutive commit acknowledgements
    starts_s: float  # when it began, seconds after the window opened (negative: before it)


def largest_gap(ends: list[float], window_start: float, window_end: float) -> Gap:
    """The largest gap between consecutive sorted commit times that overlaps [window_start, window_end + AFTER_S].

    A gap overlaps the window when its earlier commit is before the window's end and its later commit after the
    window's start; the gap from the last commit to the window's end counts too (no commit at all until then)."""
    longest = Gap(ms=0.0, starts_s=0.0)
    limit = window_end + AFTER_S
    previous: float | None = None
    for end in ends:
        if previous is not None and previous <= window_end and end >= window_start:
            gap_ms = (end - previous) * 1000
            if gap_ms > longest.ms:
                longest = Gap(ms=gap_ms, starts_s=previous - window_start)
        if end > limit:
            break
        previous = end
    if previous is not None and previous < window_end and (window_end - previous) * 1000 > longest.ms:
        longest = Gap(ms=(window_end - previous) * 1000, starts_s=previous - window_start)
    if previous is None:  # no commit before the window closed
        longest = Gap(ms=(window_end - window_start) * 1000, starts_s=0.0)
    return longest


def commits_between(ends: list[float], start: float, end: float) -> int:
    return sum(1 for at in ends if start <= at <= end)


def largest_gap_inside(ends: list[float], start: float, end: float) -> float:
    """The largest gap in ms between consecutive commits both inside [start, end]: what the load alone does."""
    inside = [at for at in ends if start <= at <= end]
    return max(((later - earlier) * 1000 for earlier, later in zip(inside, inside[1:], strict=False)), default=0.0)
