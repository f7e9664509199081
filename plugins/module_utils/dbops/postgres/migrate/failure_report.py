"""A part that failed: one error message (which statement, why, and what a rerun will do), recorded in the ledger.

When committed work remains (segments, lone non-transactional statements, backfill batches) the set is PARTIAL,
and the message says so together with what the next run does: resume after the last committed statement, or
undo it with on_partial: compensate.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import (
    FAILED,
    PARTIAL,
    RunOptions,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate import ledger
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.lock_retry import is_lock_failure
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_session import PartSession
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.session_timeouts import (
    lock_timeout_ms,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
    Statement,
    first_words,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.statement_execution import (
    StatementFailed,
)


def as_error(mset: MigrationSet, direction: str, exc: BaseException, opts: RunOptions) -> DbopsError:
    """The failure as the engine's error, naming the set, the file and the statement."""
    if isinstance(exc, DbopsError):
        return exc
    path = part_path(mset, direction)
    if isinstance(exc, StatementFailed):
        stmt = exc.statement
        # The label is the statement's first words: a CREATE ROLE ... PASSWORD '...' must not show its password.
        what = f"{'rollback ' if direction == 'down' else ''}statement {stmt.index} (line {stmt.line}: " \
               f"{redact(first_words(stmt.sql))})"
        if is_lock_failure(exc.error):
            return MigrationFailed(
                f"{what} could not get its lock within lock_timeout {lock_timeout_ms(postgres_part(mset), opts)}ms "
                f"after {opts.ddl_retries + 1} attempts: {pg_message(exc.error)}", version=mset.version, path=path)
        return MigrationFailed(f"{what} failed: {pg_message(exc.error)}", version=mset.version, path=path)
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return MigrationFailed(pg_message(exc), version=mset.version, path=path)
    return MigrationFailed(redact(str(exc)), version=mset.version, path=path)


def record_failure(session: PartSession, mset: MigrationSet, direction: str, error: DbopsError, opts: RunOptions,
                   log: list[ledger.LogEntry], statements: list[Statement]) -> DbopsError:
    """Log and record the failure (outside the rolled-back transaction); returns the error to raise.

    A broken connection must not hide the error: then the error is returned as it is, with a warning.
    """
    conn = session.conn
    try:
        ledger.write_log(conn, opts.run_id, log)
        partial = ledger.has_progress(conn, mset.version)
        if partial:
            error = _with_partial_note(error, _partial_note(mset, direction, statements,
                                                            _done(conn, mset.version, direction)))
        if direction == "up":
            session.record(mset, PARTIAL if partial else FAILED, opts, error=str(error), keep_started=partial)
        else:
            ledger.set_error(conn, mset.version, f"rollback failed: {error}")
            if partial:
                session.record(mset, PARTIAL, opts, error=f"rollback failed part-way: {error}", keep_started=True)
    except psycopg.Error as exc:
        opts.warnings.append(f"{mset.version}: could not record the failure in the ledger: {pg_message(exc)}")
    return error


def _done(conn, version: str, direction: str) -> list[int]:
    return sorted(seq for seq, row in ledger.read_progress(conn, version, direction).items() if row.status == "done")


def _partial_note(mset: MigrationSet, direction: str, statements: list[Statement], done: list[int]) -> str:
    path = part_path(mset, direction)
    if done:
        last = next((s for s in statements if s.index == done[-1]), None)
        where = f"statement {done[-1]}" + (f" (line {last.line})" if last else "") + f" of {path}"
        committed = f"{len(done)} of its statements are committed"
        resume = f"resumes after {where}"
    else:
        committed = "backfill batches are committed"
        resume = f"resumes the backfill after its last committed batch ({path})"
    if direction == "down":
        return (f"the rollback stopped part-way and the set is now partial: {committed}; a rerun with state "
                f"rolled_back {resume}")
    if postgres_part(mset).down_sql is None:
        undo = "on_partial: compensate cannot undo it (the set has no down SQL): repair by hand"
    else:
        undo = f"with on_partial: compensate a rerun undoes it with {part_path(mset, 'down')} instead"
    return f"the set is now partial: {committed}; a rerun {resume} (on_partial: resume), or {undo}"


def _with_partial_note(error: DbopsError, note: str) -> DbopsError:
    noted = type(error)(f"{error.message}. {note[0].upper()}{note[1:]}", version=error.version, path=error.path)
    noted.__cause__ = error.__cause__
    return noted
