"""Connecting to MongoDB for migrations: the driver behind an import guard, one clear error, no secrets."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError

try:  # guarded: ansible-test's import sanity test loads module_utils without third-party packages
    import bson
    import pymongo
    from pymongo import errors as pymongo_errors
except ImportError:  # pragma: no cover - only where pymongo is missing
    bson = None
    pymongo = None
    pymongo_errors = None

AUTHENTICATION_FAILED = 18
UNAUTHORIZED = 13

_USERINFO = re.compile(r"(mongodb(?:\+srv)?://)([^:/@]+):([^@/]*)@")


def require_driver() -> None:
    if pymongo is None or bson is None:
        raise DbopsError("MongoDB migrations need the Python package pymongo on the host running dbops")


def redact_uri(text: str) -> str:
    """Any MongoDB URI in text with its password replaced by ***."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)


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
    return redact_uri(text)


def connect(uri: str, *, timeout_ms: int = 10_000, **options: Any):
    """A MongoClient checked with ping; ConnectionFailed says whether the server is unreachable or refused us."""
    require_driver()
    where = hosts_of(uri)
    # Options written in the URI win over these defaults (keyword arguments would override the URI).
    query = uri.split("?", 1)[1].lower() if "?" in uri else ""
    given = {part.split("=", 1)[0] for part in query.replace(";", "&").split("&") if part}
    defaults = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms, "appname": "sevenp.dbops"}
    for name, value in defaults.items():
        if name.lower() in given:
            if name == "serverSelectionTimeoutMS":
                timeout_ms = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p)[name.lower()])
            continue
        options.setdefault(name, value)
    try:
        client = pymongo.MongoClient(uri, **options)
    except (pymongo_errors.ConfigurationError, pymongo_errors.InvalidURI, ValueError) as exc:
        raise ConnectionFailed(f"invalid MongoDB URI for {where}: {describe_error(exc)}") from exc
    try:
        client.admin.command("ping")
    except pymongo_errors.OperationFailure as exc:
        client.close()
        if exc.code in (AUTHENTICATION_FAILED, UNAUTHORIZED):
            raise ConnectionFailed(f"MongoDB at {where} refused the credentials: {describe_error(exc)}") from exc
        raise ConnectionFailed(f"MongoDB at {where} answered with an error: {describe_error(exc)}") from exc
    except pymongo_errors.PyMongoError as exc:
        client.close()
        raise ConnectionFailed(f"cannot reach MongoDB at {where} within {timeout_ms} ms: "
                               f"{describe_error(exc)}") from exc
    return client


def is_duplicate_key(exc: BaseException) -> bool:
    return pymongo_errors is not None and isinstance(exc, pymongo_errors.DuplicateKeyError)
