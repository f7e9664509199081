"""A database error as one line of text for messages and the ledger, secrets redacted."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact


def pg_message(exc: BaseException) -> str:
    """SQLSTATE, message, detail and hint of a database error, on one line, secrets masked."""
    diag = getattr(exc, "diag", None)
    if diag is not None and diag.message_primary:
        text = f"{diag.message_primary} (SQLSTATE {diag.sqlstate})"
        if diag.message_detail:
            text += f" DETAIL: {diag.message_detail}"
        if diag.message_hint:
            text += f" HINT: {diag.message_hint}"
    else:
        text = " ".join(str(exc).split())
    return redact(text)
