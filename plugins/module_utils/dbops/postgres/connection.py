"""Connecting to PostgreSQL with errors that say what is wrong (unreachable, credentials) and never the password."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # pragma: no cover - ansible-test's import sanity runs without psycopg
    psycopg = None
    conninfo_to_dict = None

APPLICATION_NAME = "sevenp.dbops"
DEFAULT_CONNECT_TIMEOUT_S = 10

_URI_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_SQL_PASSWORD = re.compile(r"(\bPASSWORD\s+)(E?'(?:[^']|'')*')", re.IGNORECASE)


def require_psycopg() -> Any:
    if psycopg is None:
        raise ConnectionFailed("the Python package psycopg (version 3) is required on the host running the "
                               "migration: pip install 'psycopg[binary]'")
    return psycopg


def mask_secrets(text: str) -> str:
    """Remove passwords from DSNs/URIs quoted in a message."""
    text = _URI_PASSWORD.sub(r"\1********\3", text)
    text = _SQL_PASSWORD.sub(r"\1'********'", text)
    return _KV_PASSWORD.sub(r"\1********", text)


def describe_dsn(dsn: str) -> str:
    """user@host:port/dbname of a DSN, for messages (no password)."""
    try:
        params = conninfo_to_dict(dsn) if conninfo_to_dict else {}
    except Exception:  # an invalid DSN is reported by connect(); here we only describe it
        return "<invalid DSN>"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    user = params.get("user") or "<default user>"
    dbname = params.get("dbname") or user
    return f"{user}@{host}:{port}/{dbname}"


def connect(dsn: str, *, autocommit: bool = True, application_name: str = APPLICATION_NAME) -> Any:
    """An autocommit connection (the engine issues its own BEGIN/COMMIT), or ConnectionFailed."""
    pg = require_psycopg()
    where = describe_dsn(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:
        raise ConnectionFailed(f"invalid postgres_dsn: {mask_secrets(str(exc).strip())}") from None
    kwargs: dict[str, Any] = {"autocommit": autocommit}
    if "connect_timeout" not in params:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
    if "application_name" not in params:
        kwargs["application_name"] = application_name
    try:
        return pg.connect(dsn, **kwargs)
    except pg.OperationalError as exc:
        raise ConnectionFailed(_explain(str(exc), where)) from None
    except pg.Error as exc:
        raise ConnectionFailed(f"cannot connect to PostgreSQL {where}: {mask_secrets(str(exc).strip())}") from None


def _explain(message: str, where: str) -> str:
    text = mask_secrets(message.strip())
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered or \
            "authentication failed" in lowered:
        return f"PostgreSQL {where} refused the credentials (authentication failed): check the user and password"
    if "does not exist" in lowered:
        detail = text.split("FATAL:", 1)[-1].strip()
        return f"PostgreSQL {where}: {detail}"
    if any(s in lowered for s in ("connection refused", "timeout expired", "could not translate host name",
                                  "no route to host", "network is unreachable", "could not connect")):
        reason = text.splitlines()[0]
        reason = reason.split("failed:", 1)[-1].strip() if "failed:" in reason else reason
        return f"cannot reach PostgreSQL at {where}: {reason} (is the server running and reachable?)"
    return f"cannot connect to PostgreSQL {where}: {text}"
