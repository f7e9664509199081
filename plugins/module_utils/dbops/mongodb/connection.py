"""The one way the engine connects to MongoDB: the driver behind an import guard, one clear error, no secrets.

Migrations, backups, captures, restores and the drill all get their MongoClient from connect() below (the only
pymongo.MongoClient call in module_utils), so timeouts, the ping that proves the server is there, and the wording
of a refused or unreachable server are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact

# Only modules are bound here (bson.Timestamp, bson.codec_options.CodecOptions, ... are used through them), so every
# fallback is the same `name = None` and the names keep the driver's types wherever the driver is installed.
try:  # guarded: ansible-test's import sanity test loads module_utils without third-party packages
    import bson
    import bson.codec_options
    import bson.errors
    import bson.json_util
    import bson.raw_bson
    import pymongo
    from pymongo import errors as pymongo_errors
except ImportError:  # pragma: no cover - only where pymongo is missing
    bson = None  # type: ignore[assignment]
    pymongo = None  # type: ignore[assignment]
    pymongo_errors = None  # type: ignore[assignment]

AUTHENTICATION_FAILED = 18
UNAUTHORIZED = 13
APP_NAME = "sevenp.dbops"

RAW_CODEC = None if bson is None else bson.codec_options.CodecOptions(
    document_class=bson.raw_bson.RawBSONDocument, tz_aware=True)
# Decoded documents keep their field order (BSON order matters to MongoDB) and datetimes are timezone-aware.
# Dates outside Python's range (year > 9999) stay exact instead of failing the decode.
DOC_CODEC: bson.codec_options.CodecOptions[dict[str, Any]] = None if bson is None else bson.codec_options.CodecOptions(
    tz_aware=True, datetime_conversion=bson.codec_options.DatetimeConversion.DATETIME_AUTO)


def require_driver() -> None:
    if pymongo is None or bson is None:
        raise DbopsError("the Python package pymongo (with bson) is required on the host running dbops")


def hosts_of(uri: str) -> str:
    """host:port list of a URI, for messages (never the credentials)."""
    rest = uri.split("://", 1)[-1]
    hostpart = rest.split("/", 1)[0].split("?", 1)[0]
    return hostpart.rsplit("@", 1)[-1] or "localhost"


def describe_error(exc: BaseException) -> str:
    """One line for a driver error, secrets masked; the server's errmsg rather than the whole reply."""
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details.get("errmsg"):
        code = details.get("code")
        text = f"{details['errmsg']}" + (f" (code {code})" if code is not None else "")
    else:
        text = " ".join(str(exc).split())
        text = text.split(", full error:", 1)[0]
    return redact(text)


def _uri_options(uri: str) -> dict[str, str]:
    """The URI's query options, names lowercased (MongoDB option names are case-insensitive)."""
    query = uri.split("?", 1)[1] if "?" in uri else ""
    pairs = (part.split("=", 1) for part in query.replace(";", "&").split("&") if part)
    return {pair[0].lower(): (pair[1] if len(pair) > 1 else "") for pair in pairs}


def connect(uri: str, *, timeout_ms: int = 10_000, tz_aware: bool = False, **options: Any):
    """A MongoClient checked with ping; ConnectionFailed says whether the server is unreachable or refused us.

    tz_aware: documents read back carry aware datetimes (backups and restores); migrations keep pymongo's naive UTC.
    Options written in the URI win over these defaults (keyword arguments would override the URI).
    """
    require_driver()
    where = hosts_of(uri)
    given = _uri_options(uri)
    if "serverselectiontimeoutms" in given:
        timeout_ms = int(given["serverselectiontimeoutms"])
    defaults = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms, "appname": APP_NAME}
    for name, value in defaults.items():
        if name.lower() not in given:
            options.setdefault(name, value)
    options["tz_aware"] = tz_aware
    try:
        client = pymongo.MongoClient(uri, **options)
    except (pymongo_errors.ConfigurationError, pymongo_errors.InvalidURI, ValueError, TypeError) as exc:
        raise ConnectionFailed(f"invalid MongoDB URI for {where}: {describe_error(exc)}") from None
    try:
        client.admin.command("ping")
    except pymongo_errors.OperationFailure as exc:
        client.close()
        if exc.code in (AUTHENTICATION_FAILED, UNAUTHORIZED):
            raise ConnectionFailed(f"MongoDB at {where} refused the credentials: {describe_error(exc)}") from None
        raise ConnectionFailed(f"MongoDB at {where} answered with an error: {describe_error(exc)}") from None
    except pymongo_errors.PyMongoError as exc:
        client.close()
        raise ConnectionFailed(f"cannot reach MongoDB at {where} within {timeout_ms} ms: "
                               f"{describe_error(exc)}") from None
    return client


def connect_tz_aware(uri: str, **options: Any):
    """connect() for backup, capture and restore work: their dates are compared with aware times."""
    return connect(uri, tz_aware=True, **options)


@contextmanager
def connected(uri: str, doing: str, **options: Any) -> Iterator[Any]:
    """A client for a short piece of work, closed after it; a driver error during the work is ConnectionFailed
    naming what was being done ("reading the drill's documents back")."""
    client = connect(uri, **options)
    try:
        yield client
    except pymongo_errors.PyMongoError as exc:
        raise ConnectionFailed(f"MongoDB at {hosts_of(uri)} failed while {doing}: {describe_error(exc)}") from None
    finally:
        client.close()


def is_duplicate_key(exc: BaseException) -> bool:
    return pymongo_errors is not None and isinstance(exc, pymongo_errors.DuplicateKeyError)
