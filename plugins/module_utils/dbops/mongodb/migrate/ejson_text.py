"""Operation arguments and inverses are kept in the ledger as Extended JSON text: types survive (ObjectId,
dates), and keys such as "$jsonSchema" or "a.b" never meet the server's field-name rules."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson

if bson is not None:
    from bson import json_util

    _EJSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=False)
else:  # pragma: no cover
    json_util = None
    _EJSON = None


def to_ejson(value: Any) -> str | None:
    return None if value is None else json_util.dumps(value, json_options=_EJSON)


def from_ejson(text: str | None) -> Any:
    return None if text is None else json_util.loads(text, json_options=_EJSON)
