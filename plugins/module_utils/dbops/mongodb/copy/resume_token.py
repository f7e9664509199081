"""The cluster time inside a change stream resume token, so an idle copy can move its applied position.

A change stream's postBatchResumeToken advances past oplog entries that do not concern the database (writes to
other databases, heartbeats): once every event up to it has been applied, the target holds the source's database
as of the token's cluster time. Two token formats are read: SecantusDB's (hex of a BSON document whose ``t`` is
the Timestamp) and mongod's KeyString (hex starting with 0x82, then the Timestamp's seconds and increment, 4 bytes
each, big-endian). Anything else gives None: the copy then only moves with the events it applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson

KEYSTRING_TIMESTAMP = 0x82


def token_cluster_time(token: Any) -> Any:
    """The bson.Timestamp a resume token stands at, or None when its format is not known."""
    data = token.get("_data") if isinstance(token, Mapping) else None
    if not isinstance(data, str):
        return None
    try:
        raw = bytes.fromhex(data)
    except ValueError:
        return None
    if raw[:1] == bytes([KEYSTRING_TIMESTAMP]) and len(raw) >= 9:
        return bson.timestamp.Timestamp(int.from_bytes(raw[1:5], "big"), int.from_bytes(raw[5:9], "big"))
    try:
        decoded = bson.decode(raw)
    except (bson.errors.BSONError, ValueError, IndexError):
        return None
    stamp = decoded.get("t")
    return stamp if isinstance(stamp, bson.timestamp.Timestamp) else None
