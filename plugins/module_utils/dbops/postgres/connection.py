"""The one way the engine connects to PostgreSQL: errors that say what is wrong (unreachable, credentials), never
the password.

Every connection (migrations, backups, restores, WAL setup, the drill) comes from connect() below, so the defaults
(connect timeout, application_name) and the error wording are the same everywhere, and every message is redacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact

# The engine's one guarded import of the driver: every other file takes psycopg and sql from here.
try:  # guarded: ansible-test's import sanity test loads module_utils without third-party packages
    import psycopg
    from psycopg import sql  # noqa: F401  # pylint: disable=unused-import
    from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: F401  # pylint: disable=unused-import
except ImportError:  # pragma: no cover - ansible-test's import sanity runs without psycopg
    psycopg = None  # type: ignore[assignment]
    sql = None  # type: ignore[assignment]
    conninfo_to_dict = make_conninfo = None  # type: ignore[assignment]

APPLICATION_NAME = "sevenp.dbops"
DEFAULT_CONNECT_TIMEOUT_S = 10


def require_psycopg() -> Any:
    if psycopg is None:
        raise ConnectionFailed("the Python package psycopg (version 3) is required on the host running dbops: "
                               "pip install 'psycopg[binary]'")
    return psycopg


def _dsn_params(dsn: str) -> dict[str, Any] | None:
    """The DSN's settings, or None when it cannot be parsed (connect() reports that; messages only describe)."""
    try:
        return conninfo_to_dict(dsn) if conninfo_to_dict is not None else {}
    except Exception:  # noqa: BLE001 - only for a message
        return None


def _host_port(params: dict[str, Any]) -> str:
    return f"{params.get('host') or params.get('hostaddr') or 'localhost'}:{params.get('port') or 5432}"


def describe_dsn(dsn: str) -> str:
    """user@host:port/dbname of a DSN, for messages (no password)."""
    params = _dsn_params(dsn)
    if params is None:
        return "<invalid DSN>"
    user = params.get("user") or "<default user>"
    return f"{user}@{_host_port(params)}/{params.get('dbname') or user}"


def describe_server(dsn: str) -> str:
    """host:port/dbname of a DSN, for messages (no user, no password)."""
    params = _dsn_params(dsn)
    if params is None:
        return "the PostgreSQL server"
    return f"{_host_port(params)}/{params.get('dbname') or ''}"


def connect(dsn: str, *, autocommit: bool = True, connect_timeout: float | None = None,
            application_name: str = APPLICATION_NAME) -> Any:
    """A psycopg connection, autocommit by default (the engine issues its own BEGIN/COMMIT; restore points and WAL
    switches must not sit inside a transaction), or ConnectionFailed.

    connect_timeout: seconds; given here it wins, else the DSN's connect_timeout, else DEFAULT_CONNECT_TIMEOUT_S.
    application_name: unless the DSN sets one.
    """
    pg = require_psycopg()
    where = describe_dsn(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:  # noqa: BLE001 - psycopg raises ProgrammingError, libpq parse errors vary
        raise ConnectionFailed(f"invalid postgres_dsn: {str(exc).strip()}") from None
    kwargs: dict[str, Any] = {"autocommit": autocommit}
    if connect_timeout is not None:
        kwargs["connect_timeout"] = max(1, round(connect_timeout))
    elif "connect_timeout" not in params:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
    if "application_name" not in params:
        kwargs["application_name"] = application_name
    try:
        return psycopg.connect(dsn, **kwargs)
    except pg.OperationalError as exc:
        raise ConnectionFailed(_explain(str(exc), where)) from None
    except pg.Error as exc:
        raise ConnectionFailed(f"cannot connect to PostgreSQL {where}: {str(exc).strip()}") from None


@contextmanager
def connected(dsn: str, doing: str, **options: Any) -> Iterator[Any]:
    """A connection for a short piece of work, closed after it; losing the server during the work is
    ConnectionFailed naming what was being done ("reading the drill's rows back")."""
    conn = connect(dsn, **options)
    try:
        with conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(f"PostgreSQL {describe_dsn(dsn)} failed while {doing}: {str(exc).strip()}") from None


def _explain(message: str, where: str) -> str:
    text = redact(message.strip())
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
