"""PostgreSQL's reads for validation rules (migrations/validation/rule_checker.RuleChecker), all keyset-paged
in short READ ONLY transactions (keyset_pages.py) except the sql rule, one READ ONLY query under its timeout."""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.canonical import (
    key_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rule_checker import (
    Offenders,
    Page,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    MAX_EXAMPLES,
    Paging,
    Target,
    ValidationRule,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg, sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.error_text import pg_message
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.migrate.verification import (
    verification_error,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.validation.keyset_pages import (
    fetch_page,
    key_columns,
    pages,
    read_only_batch,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.validation.table_name import (
    column_identifier,
    column_name,
    table_identifier,
)

_COLUMN_TYPE = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(%s) " \
               "AND attname = %s AND NOT attisdropped"


def _key(row: tuple, width: int) -> Any:
    return row[0] if width == 1 else tuple(row[:width])


class PostgresRuleChecker:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def count(self, target: Target, paging: Paging) -> int:
        return sum(len(rows) for rows in pages(self.conn, target, [], paging))

    def nulls(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        keys = key_columns(self.conn, target, paging)
        is_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(column_identifier(f)) for f in fields)
        found = Offenders()
        for rows in pages(self.conn, target, [sql.SQL("({})").format(is_null)], paging, keys=keys):
            found.checked += len(rows)
            for row in rows:
                if row[-1]:
                    self._offend(found, _key(row, len(keys)))
        return found

    def duplicates(self, target: Target, fields: tuple[str, ...], paging: Paging) -> Offenders:
        """Pages in the order of (fields, key), so equal values are neighbours; rows with a null among the
        fields are left out (nulls are distinct, as in a unique index). Give the columns an index on a big table:
        each batch is then an index range scan."""
        keys = key_columns(self.conn, target, paging)
        columns = tuple(column_identifier(f) for f in fields)
        not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in columns)
        found, previous, group = Offenders(), None, 0
        order = (*columns, *keys)
        after: tuple | None = None
        while True:
            rows = fetch_page(self.conn, target, order, list(keys), after, paging, where=not_null)
            for row in rows:
                values, key = tuple(row[:len(columns)]), _key(row[len(order):], len(keys))
                found.checked += 1
                if previous is not None and values == previous[0]:
                    group += 1
                    if group == 2:
                        self._offend(found, previous[1])
                    self._offend(found, key)
                else:
                    group = 1
                previous = (values, key)
            if len(rows) < paging.batch_size:
                return found
            after = tuple(rows[-1][:len(order)])

    def custom(self, rule: ValidationRule) -> Offenders:
        if rule.kind != "sql":
            raise ValidationFailed(f"validate[{rule.index}]: {rule.kind} does not apply to a PostgreSQL table")
        query = sql.SQL(rule.query)  # the set's own SQL, like its up.sql: trusted as written
        counted = read_only_batch(self.conn, rule.paging, sql.SQL("SELECT count(*) FROM ({}) AS q").format(query))
        shown = read_only_batch(self.conn, rule.paging,
                                sql.SQL("SELECT * FROM ({}) AS q LIMIT {}").format(query, sql.Literal(MAX_EXAMPLES)))
        return Offenders(checked=-1, offending=int(counted[0][0]),
                         examples=[", ".join(key_text(v) for v in row) for row in shown])

    def page(self, target: Target, fields: tuple[str, ...], after: Any, paging: Paging) -> Page:
        keys = key_columns(self.conn, target, paging)
        rows = fetch_page(self.conn, target, keys, [column_identifier(f) for f in fields], after, paging)
        width = len(keys)
        result = [(_key(row, width), tuple(row[width:])) for row in rows]
        return Page(result, tuple(rows[-1][:width]) if len(rows) == paging.batch_size else None)

    def existing(self, target: Target, field_name: str, values: list[Any], paging: Paging) -> set[str]:
        if not values:
            return set()
        column = column_identifier(field_name)
        typed = read_only_batch(self.conn, paging, _COLUMN_TYPE, (target.name, column_name(field_name)))
        if not typed:
            raise ValidationFailed(f"validation rule: {target.name}.{field_name} does not exist")
        texts = [key_text(v) for v in values]
        base = sql.SQL("SELECT DISTINCT {c} FROM {t} WHERE ").format(c=column, t=table_identifier(target.name))
        try:  # compared in the column's own type, so its index serves
            rows = read_only_batch(self.conn, paging, base + sql.SQL("{} = ANY (%s::text[]::{}[])").format(
                column, sql.SQL(typed[0][0])), (texts,))
        except psycopg.DataError:  # a value that is not of the column's type (a stray string): compare as text
            rows = read_only_batch(self.conn, paging, base + sql.SQL("{}::text = ANY (%s::text[])").format(column),
                                   (texts,))
        return {key_text(r[0]) for r in rows}

    def verify_set(self, mset: MigrationSet, check_mode: bool) -> str | None:
        """The part's verify SQL, in a READ ONLY transaction that is rolled back."""
        if mset.postgres is None or not mset.postgres.verify_sql:
            return None
        try:
            with self.conn.transaction(force_rollback=True):
                self.conn.execute("SET TRANSACTION READ ONLY")
                error = verification_error(self.conn, mset)
        except psycopg.Error as exc:
            return f"verification query failed: {pg_message(exc)}"
        return error.message if error else None

    def exists(self, target: Target, column: str | None, paging: Paging) -> bool:
        if column is None:
            return bool(read_only_batch(self.conn, paging, "SELECT to_regclass(%s) IS NOT NULL", (target.name,))[0][0])
        return bool(read_only_batch(self.conn, paging, _COLUMN_TYPE, (target.name, column_name(column))))

    @staticmethod
    def _offend(found: Offenders, key: Any) -> None:
        found.offending += 1
        if len(found.examples) < MAX_EXAMPLES:
            found.examples.append(key_text(key))
