"""The one way anything is written into the PostgreSQL ledger (schema dbops): every text redacted first.

Statement texts, error texts and details (a CREATE ROLE ... PASSWORD '...', a dblink connection string in an
error) would otherwise sit in dbops.migration_log for anyone who can read it. Every string parameter of a ledger
write passes through core.secrets.redact here, so no write path can forget it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact_value


def write(target: Any, query: Any, params: Any = None) -> Any:
    """Execute a ledger write on a connection or cursor, with every string in params redacted."""
    return target.execute(query, redact_value(params) if params is not None else None)
