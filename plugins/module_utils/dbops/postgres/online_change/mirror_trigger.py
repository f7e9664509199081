"""The trigger that keeps the shadow table in step with every write to the original, in the writer's transaction.

An insert upserts the new row's values into the shadow; an update deletes the old key when the key changed and
upserts the new row; a delete deletes by key. Because it runs inside the writer's transaction, any snapshot sees
both tables agree on every row the copy already moved (what makes the validation exact under load).

The function is SECURITY DEFINER: the application's roles write the original, not the shadow, and need no grant
on it. Its search_path is the migration's (with pg_catalog first and pg_temp last, set by the caller), so the
author's `using` expressions mean the same in the copy and in the trigger.
"""

from __future__ import annotations

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import ColumnMap


def upsert(target: sql.Composable, columns: ColumnMap, source: sql.Composable) -> sql.Composable:
    """INSERT of the mapped values of the rows in `source` (aliased t); a row already there takes the new values."""
    others = [c.name for c in columns.columns if c.name not in columns.key]
    on_conflict = (sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in others))
        if others else sql.SQL("DO NOTHING"))
    return sql.SQL("INSERT INTO {target} ({names}){overriding} SELECT {values} FROM {source} t "
                   "ON CONFLICT ({key}) {on_conflict}").format(
        target=target, names=columns.names(), overriding=columns.overriding(),
        values=columns.expressions(parameters=False), source=source,
        key=sql.SQL(", ").join(sql.Identifier(k) for k in columns.key), on_conflict=on_conflict)


def function_statement(function: str, target: sql.Composable, columns: ColumnMap) -> sql.Composable:
    key = sql.SQL(", ").join(sql.Identifier(k) for k in columns.key)
    old_key = sql.SQL("(SELECT ROW({}) FROM (SELECT OLD.*) t)").format(columns.key_expressions())
    new_key = sql.SQL("(SELECT ROW({}) FROM (SELECT NEW.*) t)").format(columns.key_expressions())
    old_key_rows = sql.SQL("(SELECT {} FROM (SELECT OLD.*) t)").format(columns.key_expressions())
    body = sql.SQL(
        "BEGIN\n"
        "  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND {old_key} IS DISTINCT FROM {new_key}) THEN\n"
        "    DELETE FROM {target} WHERE ({key}) IN {old_key_rows};\n"
        "  END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        "    {upsert};\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END").format(old_key=old_key, new_key=new_key, target=target, key=key,
                      old_key_rows=old_key_rows, upsert=upsert(target, columns, sql.SQL("(SELECT NEW.*)")))
    return sql.SQL("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM "
                   "CURRENT AS $dbops_online_change$\n{}\n$dbops_online_change$").format(
        sql.Identifier("dbops", function), body)


def trigger_statement(trigger: str, original: sql.Composable, function: str) -> sql.Composable:
    return sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()"
                   ).format(sql.Identifier(trigger), original, sql.Identifier("dbops", function))
