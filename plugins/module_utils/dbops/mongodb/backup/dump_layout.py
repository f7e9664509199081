"""mongodump's directory layout (with --gzip), so that mongorestore --gzip [--oplogReplay] can read our dumps.

    <root>/prelude.json.gz                     {"ServerVersion": ..., "ToolVersion": ...}
    <root>/<db>/<coll>.bson.gz                 the documents, concatenated BSON, gzip
    <root>/<db>/<coll>.metadata.json.gz        {"options", "indexes", "uuid", "collectionName", "type"} in MongoDB
                                               canonical Extended JSON (views: metadata only, no .bson.gz)
    <root>/oplog.bson                          oplog entries of the dump's window (gzip content, no .gz suffix:
                                               mongorestore looks for exactly this name and gunzips it with --gzip)

Collection names are query-escaped in file names the way mongodump does it (space -> "+", everything outside
[A-Za-z0-9_.~-] -> %XX), and names that would give a file name over 238 bytes are cut and suffixed with "%24" and
a hash of the full name, which the metadata's collectionName restores.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import bson, require_driver

MAX_ESCAPED = 238
OPLOG_FILE = "oplog.bson"
PRELUDE_FILE = "prelude.json.gz"
BSON_SUFFIX = ".bson.gz"
METADATA_SUFFIX = ".metadata.json.gz"


def escape_collection_name(name: str) -> str:
    escaped = quote_plus(name, safe="")
    if len(escaped) > MAX_ESCAPED:
        digest = base64.urlsafe_b64encode(hashlib.sha1(name.encode()).digest()).decode().rstrip("=")  # noqa: S324
        escaped = escaped[:208] + "%24" + digest
    return escaped


def unescape_collection_name(escaped: str) -> str:
    return unquote_plus(escaped)


def bson_path(database: str, collection: str) -> str:
    return f"{database}/{escape_collection_name(collection)}{BSON_SUFFIX}"


def metadata_path(database: str, collection: str) -> str:
    return f"{database}/{escape_collection_name(collection)}{METADATA_SUFFIX}"


def uuid_hex(info: dict[str, Any]) -> str | None:
    """listCollections' info.uuid as mongodump writes it: 32 hex digits, no dashes."""
    value = (info.get("info") or {}).get("uuid")
    if value is None:
        return None
    raw = bytes(value) if not hasattr(value, "bytes") else value.bytes
    return raw.hex()


def metadata_document(info: dict[str, Any], indexes: list[dict[str, Any]]) -> dict[str, Any]:
    """The metadata.json document for a listCollections entry and its listIndexes result (field order as mongodump)."""
    doc: dict[str, Any] = {}
    options = dict(info.get("options") or {})
    if options:
        doc["options"] = options
    doc["indexes"] = list(indexes)
    uuid = uuid_hex(info)
    if uuid:
        doc["uuid"] = uuid
    doc["collectionName"] = info["name"]
    doc["type"] = info.get("type", "collection")
    return doc


def metadata_json(doc: dict[str, Any]) -> bytes:
    """Canonical Extended JSON ({"$numberInt": "2"}), as mongodump writes it."""
    require_driver()
    return bson.json_util.dumps(doc, json_options=bson.json_util.CANONICAL_JSON_OPTIONS,
                                separators=(",", ":")).encode()


def parse_metadata_json(data: bytes) -> dict[str, Any]:
    require_driver()
    from bson.json_util import JSONOptions

    return bson.json_util.loads(data.decode(), json_options=JSONOptions(document_class=dict, tz_aware=True))


def prelude_json(server_version: str | None, tool_version: str) -> bytes:
    return json.dumps({"ServerVersion": server_version or "unknown", "ToolVersion": tool_version}).encode()
