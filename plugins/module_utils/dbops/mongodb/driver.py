"""The MongoDB driver, imported behind a guard so that module_utils imports without pymongo installed."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError

try:  # guarded: ansible-test's import sanity test loads module_utils without third-party packages
    import bson
    import bson.errors
    import bson.json_util
    import pymongo
    from bson import Timestamp  # noqa: F401  # pylint: disable=unused-import
    from bson.codec_options import CodecOptions, DatetimeConversion
    from bson.raw_bson import RawBSONDocument
    from pymongo import errors as pymongo_errors
except ImportError:  # pragma: no cover - exercised only where pymongo is missing
    bson = None
    pymongo = None
    Timestamp = None
    CodecOptions = None
    DatetimeConversion = None
    RawBSONDocument = None
    pymongo_errors = None

RAW_CODEC = None if CodecOptions is None else CodecOptions(document_class=RawBSONDocument, tz_aware=True)
# Decoded documents keep their field order (BSON order matters to MongoDB) and datetimes are timezone-aware.
# Dates outside Python's range (year > 9999) stay exact instead of failing the decode.
DOC_CODEC = None if CodecOptions is None else CodecOptions(
    tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


def require_driver() -> None:
    if pymongo is None or bson is None:
        raise DbopsError("MongoDB backups need the Python package pymongo (with bson) on the host running dbops")


def connect(uri: str, *, timeout_ms: int = 10_000, **options: Any):
    """A MongoClient for uri, checked with a ping so an unreachable server fails here with one clear message."""
    require_driver()
    try:
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, **options)
        client.admin.command("ping")
    except pymongo_errors.PyMongoError as exc:
        raise ConnectionFailed(f"cannot connect to MongoDB at {redact_uri(uri)}: {exc}") from exc
    return client


def redact_uri(uri: str) -> str:
    """The URI without its password, for messages."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return uri
    creds, host = rest.partition("@")[::2]
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
