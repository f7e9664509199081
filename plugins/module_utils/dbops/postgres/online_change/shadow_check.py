"""The shadow compared with what the original says it must hold, before the swap.

Per key range, in one REPEATABLE READ transaction per batch: the count and an md5 of the expected rows (the
column map's expressions over the original, cast to the new types) against the shadow's rows in that range. The
trigger writes the shadow in the writer's own transaction, so any one snapshot sees both tables consistent: the
comparison is exact under load. Columns only in the shadow (filled by their defaults) are not compared. When the
new primary key is not the original's (different columns or computed), the shadow cannot be paged by the
original's key: the comparison then runs over the whole table, in one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import ColumnMap
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.copy import (
    key_after,
    key_text,
    order_by,
)

CHECK_BATCH_ROWS = 20_000


@dataclass(frozen=True)
class Mismatch:
    after_key: list[str] | None
    up_to_key: list[str] | None
    expected: tuple[int, str]
    found: tuple[int, str]

    def describe(self) -> str:
        where = (f"keys after {self.after_key or 'the start'} up to {self.up_to_key or 'the end'}")
        return f"{where}: expected {self.expected[0]} rows (md5 {self.expected[1]}), found {self.found[0]} " \
               f"(md5 {self.found[1]})"


def _digest(rows: sql.Composable, source: sql.Composable, where: sql.Composable) -> sql.Composable:
    return sql.SQL("SELECT count(*), md5(COALESCE(string_agg(r, E'\\n' ORDER BY r), '')) FROM "
                   "(SELECT ROW({rows})::text AS r FROM {source} t{where}) rows").format(
        rows=rows, source=source, where=where)


def _range(columns: ColumnMap, lower: bool, upper: bool) -> sql.Composable:
    conditions = []
    if lower:
        conditions.append(key_after(columns, "k"))
    if upper:
        conditions.append(sql.SQL("NOT {}").format(key_after(columns, "u")))
    return sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conditions)) if conditions else sql.SQL("")


def _shadow_rows(columns: ColumnMap) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c.name)) for c in columns.columns)


def check_shadow(conn: Any, original: sql.Composable, shadow: sql.Composable, columns: ColumnMap,
                 batch_rows: int = CHECK_BATCH_ROWS) -> tuple[int, Mismatch | None]:
    """(rows compared, the first range that differs or None)."""
    expected_rows, found_rows = columns.typed_expressions(), _shadow_rows(columns)
    if not columns.key_compares_with_original():
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            expected = tuple(conn.execute(_digest(expected_rows, original, sql.SQL(""))).fetchone())
            found = tuple(conn.execute(_digest(found_rows, shadow, sql.SQL(""))).fetchone())
        return expected[0], None if expected == found else Mismatch(None, None, expected, found)
    last: list[str] | None = None
    compared = 0
    while True:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            params: dict[str, Any] = {f"k{i}": v for i, v in enumerate(last or ())}
            where = sql.SQL(" WHERE {}").format(key_after(columns)) if last is not None else sql.SQL("")
            bound = conn.execute(sql.SQL(
                "SELECT {text} FROM (SELECT {keys} FROM {original}{where} ORDER BY {order} LIMIT {rows}) b "
                "ORDER BY {order_desc} LIMIT 1").format(
                text=key_text(columns, "b"), keys=sql.SQL(", ").join(sql.Identifier(k) for k in columns.original_key),
                original=original, where=where, order=order_by(columns), rows=sql.Literal(batch_rows),
                order_desc=order_by(columns, descending=True)), params).fetchone()
            upper = bound[0] if bound else None
            params.update({f"u{i}": v for i, v in enumerate(upper or ())})
            condition = _range(columns, last is not None, upper is not None)
            expected = tuple(conn.execute(_digest(expected_rows, original, condition), params).fetchone())
            found = tuple(conn.execute(_digest(found_rows, shadow, condition), params).fetchone())
        if expected != found:
            return compared, Mismatch(last, upper, expected, found)
        compared += expected[0]
        if upper is None:  # the range past the last key was compared too: the shadow holds nothing more
            return compared, None
        last = upper
