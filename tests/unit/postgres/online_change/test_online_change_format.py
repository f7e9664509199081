"""online_change: in migration.yml, the names an online change derives, and the statements it composes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.manifest import parse_manifest
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import (
    ColumnMap,
    FilledColumn,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.copy import batch_statement
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.names import (
    MAX_IDENTIFIER_BYTES,
    change_names,
    split_table_name,
)

PATH = Path("/m/2_total/migration.yml")


def test_a_full_declaration_is_parsed():
    manifest = parse_manifest({"online_change": {
        "table": "shop.orders", "alter": ["ALTER COLUMN total TYPE numeric(14,2)"],
        "using": {"total": "round(total::numeric, 2)"}, "revert": ["ALTER COLUMN total TYPE integer"],
        "batch_time": "100ms", "batch_size": 5000, "lock_timeout": "2s", "swap_retries": 3}}, PATH)
    change = manifest.online_change[0]
    assert change.table == "shop.orders" and change.alter == ("ALTER COLUMN total TYPE numeric(14,2)",)
    assert change.using == (("total", "round(total::numeric, 2)"),)
    pacing = (change.batch_time_ms, change.batch_size, change.lock_timeout_ms, change.swap_retries)
    assert pacing == (100, 5000, 2000, 3)


def test_defaults_and_a_list():
    manifest = parse_manifest({"online_change": [{"table": "a", "alter": "ADD COLUMN c int"},
                                                 {"table": "b", "alter": ["ADD COLUMN c int"]}]}, PATH)
    assert [c.table for c in manifest.online_change] == ["a", "b"]
    assert manifest.online_change[0].revert is None
    assert (manifest.online_change[0].lock_timeout_ms, manifest.online_change[0].swap_retries) == (2000, 10)


@pytest.mark.parametrize(("declaration", "message"), [
    ({"alter": ["ADD COLUMN c int"]}, "online_change[0]: 'table' is required"),
    ({"table": "t"}, "online_change[0]: 'alter' is required"),
    ({"table": "t", "alter": [], }, "online_change[0].alter must be a list of ALTER TABLE actions"),
    ({"table": "t", "alter": ["ALTER TABLE t ADD c int"]}, "without ALTER TABLE <table>"),
    ({"table": "t; drop", "alter": ["ADD c int"]}, "online_change[0].table must be a table name"),
    ({"table": "t", "alter": ["ADD c int"], "using": ["c"]}, "online_change[0].using must map"),
    ({"table": "t", "alter": ["ADD c int"], "batch_time": "2h"}, "online_change[0].batch_time must be from"),
    ({"table": "t", "alter": ["ADD c int"], "swap_retries": -1}, "online_change[0].swap_retries"),
    ({"table": "t", "alter": ["ADD c int"], "colour": 1}, "online_change[0]: unknown key(s) colour"),
])
def test_bad_declarations_name_the_key(declaration, message):
    with pytest.raises(MigrationFormatError, match=None) as refused:
        parse_manifest({"online_change": declaration}, PATH)
    assert message in str(refused.value) and str(PATH) in str(refused.value)


def test_a_table_is_changed_once_per_set():
    with pytest.raises(MigrationFormatError, match="once per set"):
        parse_manifest({"online_change": [{"table": "t", "alter": "ADD a int"}, {"table": "T", "alter": "ADD b int"}]},
                       PATH)


def test_names_are_derived_from_table_and_version_and_bounded():
    names = change_names("shop", "orders", "2024.010", "up")
    assert (names.shadow, names.old) == ("orders__shadow_2024.010", "orders__old_2024.010")
    assert change_names("shop", "orders", "7", "down").shadow == "orders__shadow_7_r"
    long = change_names("s", "x" * 60, "20240101120000", "up")
    assert all(len(n.encode()) <= MAX_IDENTIFIER_BYTES for n in (long.shadow, long.old, long.trigger, long.function))
    assert long.shadow.endswith("__shadow_20240101120000") and long.shadow != change_names(
        "s", "x" * 61, "20240101120000", "up").shadow
    assert split_table_name('Shop."Orders"') == ("shop", "Orders")


def test_the_copy_batch_pages_by_the_composite_key_and_locks_for_share():
    columns = ColumnMap(columns=(FilledColumn("site", "integer", None), FilledColumn("id", "integer", None),
                                 FilledColumn("qty", "bigint", "qty * 2")), key=("site", "id"),
                        original_key=("site", "id"), original_key_types=("integer", "integer"), identity_always=True)
    text = batch_statement(sql.Identifier("public", "stock"), sql.Identifier("public", "stock__shadow_2"), columns,
                           50, resume=True).as_string(None)
    assert 'WHERE ("site", "id") > (%(k0)s::integer, %(k1)s::integer) ORDER BY "site", "id" LIMIT 50 FOR SHARE' in text
    assert 'OVERRIDING SYSTEM VALUE SELECT t."site", t."id", (qty * 2) FROM batch t ON CONFLICT DO NOTHING' in text
