"""Which columns of the new table are filled from the original row, and by which expression.

A column of the new table is filled by its `using` expression, else by the original column of the same name
(the value converted to the new type as an INSERT would); a column only in the new table gets its default.
Generated columns compute themselves. The same map serves the copy, the mirror trigger and the validation, so the
three agree on what the new table must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.refusals import (
    OnlineChangeRefused,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import TableShape


@dataclass(frozen=True)
class FilledColumn:
    name: str
    type: str  # in the new table
    expression: str | None  # the author's SQL over the original row; None: the original column of that name


@dataclass(frozen=True)
class ColumnMap:
    columns: tuple[FilledColumn, ...]
    key: tuple[str, ...]  # the new table's primary key
    original_key: tuple[str, ...]
    original_key_types: tuple[str, ...]
    identity_always: bool  # a GENERATED ALWAYS identity column is filled: OVERRIDING SYSTEM VALUE

    def names(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(c.name) for c in self.columns)

    def expressions(self, *, parameters: bool) -> sql.Composable:
        """The values, over a row source aliased t; `parameters`: the statement is sent with parameters, so a %
        in the author's SQL (modulo, LIKE patterns) must not read as a placeholder."""
        return sql.SQL(", ").join(_expression(c, parameters) for c in self.columns)

    def typed_expressions(self) -> sql.Composable:
        """The values as the new table stores them (for the validation's comparison)."""
        return sql.SQL(", ").join(sql.SQL("({})::{}").format(_expression(c, True), sql.SQL(c.type))
                                  for c in self.columns)

    def key_expressions(self) -> sql.Composable:
        by_name = {c.name: c for c in self.columns}
        return sql.SQL(", ").join(_expression(by_name[k], False) for k in self.key)

    def overriding(self) -> sql.Composable:
        return sql.SQL(" OVERRIDING SYSTEM VALUE") if self.identity_always else sql.SQL("")

    def key_compares_with_original(self) -> bool:
        """The new key is the original's columns under the same names: the validation pages both by it."""
        return self.key == self.original_key and all(
            next(c for c in self.columns if c.name == k).expression is None for k in self.key)


def _expression(column: FilledColumn, parameters: bool) -> sql.Composable:
    if column.expression is None:
        return sql.SQL("t.{}").format(sql.Identifier(column.name))
    text = column.expression.replace("%", "%%") if parameters else column.expression
    return sql.SQL("({})").format(sql.SQL(text))


def _folded(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def column_map(original: TableShape, shadow: TableShape, using: tuple[tuple[str, str], ...], *, version: str,
               path: str | Path | None) -> ColumnMap:
    expressions = {_folded(k): v for k, v in using}
    unknown = sorted(set(expressions) - {c.name for c in shadow.columns if not c.generated})
    if unknown:
        raise OnlineChangeRefused(f"online change of {original.qualified}: using names {', '.join(unknown)}, not a "
                                  "column of the new definition (or a generated one)", version=version, path=path)
    filled = []
    for column in shadow.columns:
        if column.generated:
            continue
        if column.name in expressions:
            filled.append(FilledColumn(column.name, column.type, expressions[column.name]))
        elif original.column(column.name) is not None:
            filled.append(FilledColumn(column.name, column.type, None))
    names = {c.name for c in filled}
    missing = [k for k in shadow.primary_key if k not in names]
    if missing or not shadow.primary_key:
        raise OnlineChangeRefused(
            f"online change of {original.qualified}: the new definition's primary key "
            f"({', '.join(shadow.primary_key) or 'none'}) must be filled from the original row (column "
            f"{', '.join(missing) or '?'} has neither a column of that name nor a using expression)",
            version=version, path=path)
    types = {c.name: c.type for c in original.columns}
    return ColumnMap(columns=tuple(filled), key=shadow.primary_key, original_key=original.primary_key,
                     original_key_types=tuple(types[k] for k in original.primary_key),
                     identity_always=any(c.identity == "a" and c.name in names for c in shadow.columns))
