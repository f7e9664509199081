"""The statements of a part's up or down, split once per run; transaction control in the file left out."""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.part_files import part_path
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.postgres_part import postgres_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.sql_splitter import (
    Statement,
    first_words,
    split_statements,
)


class StatementCache:
    """Statements by (version, direction): planning and applying a set split its file once."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], list[Statement]] = {}

    def statements(self, mset: MigrationSet, direction: str, opts: RunOptions) -> list[Statement]:
        """The statements to run, transaction control (BEGIN/COMMIT in the file) left out with a warning."""
        cached = self._parsed.get((mset.version, direction))
        if cached is None:
            cached = self._parsed[(mset.version, direction)] = _statements(mset, direction, opts)
        return cached


def _statements(mset: MigrationSet, direction: str, opts: RunOptions) -> list[Statement]:
    part = postgres_part(mset)
    text = part.up_sql if direction == "up" else (part.down_sql or "")
    statements = []
    for stmt in split_statements(text):
        if stmt.transaction_control:
            if part.source_format == "sqitch":
                continue  # Sqitch scripts carry their own BEGIN/COMMIT by convention: expected, nothing to report
            warning = (f"{mset.version} ({part_path(mset, direction)}): statement {stmt.index} "
                       f"({first_words(stmt.sql, 3)}) ignored: the engine manages transactions")
            if warning not in opts.warnings:
                opts.warnings.append(warning)
            continue
        statements.append(stmt)
    if part.options.transaction == "true":
        for stmt in statements:
            if not stmt.transactional:
                raise MigrationFormatError(
                    f"statement {stmt.index} (line {stmt.line}) is {stmt.reason}, which cannot run in a "
                    "transaction, but postgres.transaction is true", version=mset.version,
                    path=part_path(mset, direction))
    return statements
