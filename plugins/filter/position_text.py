# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter position_text: a module's positions and times in the form an operator reads, not a raw dict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_MAX_INT32 = 2**32


def _cluster_time(value: Mapping[str, Any]) -> str | None:
    """{t, i} (a MongoDB cluster time as the modules return it) -> "1795607061.14 (2026-11-25T11:44:21Z)"."""
    seconds, increment = value.get("t"), value.get("i")
    if set(value) != {"t", "i"} or not isinstance(seconds, int) or not isinstance(increment, int):
        return None
    if isinstance(seconds, bool) or not 0 <= seconds < _MAX_INT32:
        return None
    moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{seconds}.{increment} ({moment})"


def position_text(value: Any) -> str:
    """Any returned value as one line: cluster times spelled out, mappings as "key: value; ...", lists joined."""
    if isinstance(value, Mapping):
        spelled = _cluster_time(value)
        if spelled is not None:
            return spelled
        parts = [f"{key}: {position_text(item)}" for key, item in value.items() if item not in (None, "", [], {})]
        return "; ".join(parts) if parts else "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(position_text(item) for item in value) if value else "-"
    if value is None or value == "":
        return "-"
    return str(value)


class FilterModule:
    def filters(self) -> dict:
        return {"position_text": position_text}
