"""The engine's one spelling of a moment: aware UTC datetimes, written as ISO 8601 with a 'Z'.

Datetimes without a zone are UTC (PostgreSQL's timestamptz and MongoDB's dates are read as UTC), never local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError


class InvalidTime(DbopsError, ValueError):
    """A text is not an ISO 8601 time (also a ValueError, for callers that catch that)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """moment in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@overload
def to_iso(moment: datetime, *, timespec: str = ...) -> str: ...


@overload
def to_iso(moment: None, *, timespec: str = ...) -> None: ...


def to_iso(moment: datetime | None, *, timespec: str = "microseconds") -> str | None:
    """2026-11-25T14:01:00.000000Z (fixed width, so the strings sort in time order); None stays None."""
    if moment is None:
        return None
    return as_utc(moment).isoformat(timespec=timespec).replace("+00:00", "Z")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_iso(text: str) -> datetime:
    """An aware datetime from ISO 8601 text ('Z' or an offset; no zone means UTC), or InvalidTime."""
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTime(f"invalid time {text!r}: expected ISO 8601 like 2026-11-25T14:01:00Z") from None
    return as_utc(parsed)
