"""The refusals over catalog records, and the mirror trigger's function as composed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.column_map import (
    ColumnMap,
    FilledColumn,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.mirror_trigger import (
    function_statement,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.refusals import (
    OnlineChangeRefused,
    findings,
    refuse,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.online_change.shape import (
    Column,
    DependentView,
    TableShape,
)

PLAIN = TableShape(
    oid=1, schema="shop", name="orders", kind="r", persistence="p", is_partition=False, row_security=False,
    replica_identity="d", owner="app", has_acl=False, grants=(), options=(),
    columns=(Column("id", "integer", "", False, False), Column("total", "integer", "", False, False)),
    primary_key=("id",), outgoing_fks=(), incoming_fks=(), views=(), sequences=(), triggers=(), rules=(),
    policies=(), publications=(), inheritance=(), other_dependents=())


def test_a_plain_table_has_nothing_in_the_way():
    assert findings(PLAIN) == []
    refuse(PLAIN, version="2", path="m.yml")


@pytest.mark.parametrize(("changes", "named"), [
    ({"primary_key": ()}, "primary key of shop.orders"),
    ({"triggers": ("audit",)}, "trigger audit on shop.orders"),
    ({"kind": "p"}, "partitioning of shop.orders"),
    ({"persistence": "u"}, "unlogged or temporary"),
    ({"row_security": True}, "row level security of shop.orders"),
    ({"publications": ("everything",)}, "publication everything"),
    ({"columns": (Column("id", "integer", "", False, True),)}, "column grant on shop.orders.id"),
    ({"views": (DependentView(9, "shop", "mv", "m", "SELECT 1", "app", (), (), None, ()),)},
     "materialized view shop.mv"),
    ({"other_dependents": ("function f(shop.orders)",)}, "function f(shop.orders): it depends on shop.orders"),
])
def test_each_finding_names_its_object(changes, named):
    shape = replace(PLAIN, **changes)
    with pytest.raises(OnlineChangeRefused) as refused:
        refuse(shape, version="2", path="m.yml")
    assert named in str(refused.value)
    assert str(refused.value).startswith("2 (m.yml): online change of shop.orders refused, nothing was changed")


def test_the_mirror_function_upserts_by_the_new_key_and_deletes_the_old_one():
    columns = ColumnMap(columns=(FilledColumn("id", "integer", None), FilledColumn("total", "numeric", "total * 2")),
                        key=("id",), original_key=("id",), original_key_types=("integer",), identity_always=False)
    text = function_statement("f_2", sql.Identifier("shop", "orders__shadow_2"), columns).as_string(None)
    assert "SECURITY DEFINER SET search_path FROM CURRENT" in text
    assert 'DELETE FROM "shop"."orders__shadow_2" WHERE ("id") IN (SELECT t."id" FROM (SELECT OLD.*) t)' in text
    assert ('INSERT INTO "shop"."orders__shadow_2" ("id", "total") SELECT t."id", (total * 2) FROM '
            '(SELECT NEW.*) t ON CONFLICT ("id") DO UPDATE SET "total" = EXCLUDED."total"') in text
