"""One spelling of a value, whichever database it came from, so values of both can be compared and hashed:
1, 1.0 and Decimal('1.00') are the same number; an ObjectId or a UUID is its text; mappings are key-sorted."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """A JSON-ready equivalent of value."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else value
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
        return format(number.normalize(), "f") if number.is_finite() else str(number)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)  # ObjectId, UUID, Decimal128 and the like: their text


def canonical(value: Any) -> str:
    """The canonical text of value (JSON, keys sorted)."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_text(value: Any) -> str:
    """A key as an example shows it: strings as they are, the rest canonical."""
    return value if isinstance(value, str) else canonical(value)
