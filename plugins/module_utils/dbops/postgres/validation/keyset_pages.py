"""Reading a table batch by batch in the order of a key, each batch its own short READ ONLY transaction with
its own statement_timeout and lock_timeout: a rule over ten million rows never holds one long transaction or
more than a brief ACCESS SHARE lock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import Paging, Target
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.validation.table_name import (
    column_identifier,
    table_identifier,
)

_PRIMARY_KEY = """
SELECT a.attname
  FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
 WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
 ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def read_only_batch(conn: Any, paging: Paging, query: Any, params: Any = None) -> list[tuple]:
    """One statement in its own READ ONLY transaction under the paging's timeouts; its rows."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                     (f"{paging.statement_timeout_ms}ms", f"{paging.lock_timeout_ms}ms"))
        return conn.execute(query, params).fetchall()


def key_columns(conn: Any, target: Target, paging: Paging) -> tuple[Any, ...]:
    """The columns to page by: the rule's key:, else the table's primary key (refused when it has none)."""
    if target.key:
        return tuple(column_identifier(k) for k in target.key)
    exists = read_only_batch(conn, paging, "SELECT to_regclass(%s) IS NOT NULL", (target.name,))
    if not exists[0][0]:
        raise ValidationFailed(f"validation rule: table {target.name} does not exist")
    rows = read_only_batch(conn, paging, _PRIMARY_KEY, (target.name,))
    if not rows:
        raise ValidationFailed(f"validation rule: table {target.name} has no primary key to page by: give key: "
                               "(columns of a unique, not-null key)")
    return tuple(sql.Identifier(r[0]) for r in rows)


def page_query(target: Target, keys: tuple[Any, ...], selected: list[Any], *, first: bool,
               where: Any = None) -> Any:
    """SELECT <keys>, <selected> FROM table [WHERE (keys) > (%s, ...)] ORDER BY keys LIMIT %s."""
    conditions = [] if first else [sql.SQL("({}) > ({})").format(sql.SQL(", ").join(keys),
                                                                 sql.SQL(", ").join([sql.Placeholder()] * len(keys)))]
    if where is not None:
        conditions.append(where)
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    return sql.SQL("SELECT {cols} FROM {table}{where} ORDER BY {keys} LIMIT %s").format(
        cols=sql.SQL(", ").join([*keys, *selected]), table=table_identifier(target.name), where=clause,
        keys=sql.SQL(", ").join(keys))


def fetch_page(conn: Any, target: Target, keys: tuple[Any, ...], selected: list[Any], after: tuple | None,
               paging: Paging, where: Any = None) -> list[tuple]:
    query = page_query(target, keys, selected, first=after is None, where=where)
    params = [*(after or ()), paging.batch_size]
    return read_only_batch(conn, paging, query, params)


def pages(conn: Any, target: Target, selected: list[Any], paging: Paging, *, keys: tuple[Any, ...] | None = None,
          where: Any = None) -> Iterator[list[tuple]]:
    """Batches of rows (key columns first, then selected), until the table is read."""
    keys = keys or key_columns(conn, target, paging)
    after: tuple | None = None
    while True:
        rows = fetch_page(conn, target, keys, selected, after, paging, where)
        if rows:
            yield rows
        if len(rows) < paging.batch_size:
            return
        after = tuple(rows[-1][:len(keys)])
