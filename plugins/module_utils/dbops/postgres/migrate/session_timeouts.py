"""lock_timeout and statement_timeout of a part: per transaction (SET LOCAL) or per session (lone statements).

The run's lock_timeout is a session setting set once, not per set (hundreds of small sets notice); a set that
overrides it, or sets a statement_timeout, gets SET LOCAL for its own transaction.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import PostgresPart
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql


def lock_timeout_ms(part: PostgresPart, opts: RunOptions) -> int:
    return part.options.lock_timeout_ms if part.options.lock_timeout_ms is not None else opts.lock_timeout_ms


class SessionTimeouts:
    """The timeouts of one connection, remembering the session's lock_timeout to set it only when it changes."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._session_lock_ms: int | None = None

    def begin(self, part: PostgresPart, opts: RunOptions) -> None:
        """BEGIN with the part's timeouts; inside pipelined() they go out with the part's first statement."""
        self.use_run_lock_timeout(opts)
        self.begin_transaction(part)

    def use_run_lock_timeout(self, opts: RunOptions) -> None:
        """The run's lock_timeout for the session, when it is not set yet (or a lone statement changed it)."""
        if self._session_lock_ms != opts.lock_timeout_ms:
            # A query of its own, before any pipeline of the part: queued together with BEGIN it would belong to the
            # transaction and be undone by the ROLLBACK before a retry.
            self.conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{opts.lock_timeout_ms}ms")))
            self._session_lock_ms = opts.lock_timeout_ms

    def begin_transaction(self, part: PostgresPart) -> None:
        """BEGIN, then the part's own timeouts for its transaction (SET LOCAL): separate queries, as a pipeline
        takes one command per query; queued in a pipeline they cost no round trip of their own."""
        self.conn.execute("BEGIN")
        local: list[tuple[str, str]] = []
        if part.options.lock_timeout_ms is not None:
            local.append(("lock_timeout", f"{part.options.lock_timeout_ms}ms"))
        if part.options.statement_timeout_ms is not None:
            local.append(("statement_timeout", f"{part.options.statement_timeout_ms}ms"))
        if local:
            self.conn.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(local)),
                              [value for setting in local for value in setting])

    def for_session(self, part: PostgresPart, opts: RunOptions) -> None:
        """Timeouts for statements that run outside a transaction block (and backfill batches)."""
        lock_ms = lock_timeout_ms(part, opts)
        stmt_ms = part.options.statement_timeout_ms
        if stmt_ms is None:
            self.conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{lock_ms}ms",))
        else:
            self.conn.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, "
                              "false)", (f"{lock_ms}ms", f"{stmt_ms}ms"))
        self._session_lock_ms = lock_ms

    def reset(self) -> None:
        self.conn.execute("RESET lock_timeout; RESET statement_timeout")
        self._session_lock_ms = None
