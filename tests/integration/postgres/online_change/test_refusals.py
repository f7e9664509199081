"""What an online change cannot move is refused before anything changes, with the object named."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from tests.support.pg_migrations import query, run, write_set

ROLE = "oc_reader_" + uuid.uuid4().hex[:8]
SHAPES = {
    "no primary key": ("CREATE TABLE t_nokey (a int, b int)", "t_nokey", "primary key of public.t_nokey"),
    "user trigger": ("CREATE TABLE t_trig (id int PRIMARY KEY, b int); CREATE FUNCTION t_trig_f() RETURNS trigger "
                     "LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; CREATE TRIGGER audit BEFORE INSERT ON t_trig "
                     "FOR EACH ROW EXECUTE FUNCTION t_trig_f()", "t_trig", "trigger audit on public.t_trig"),
    "rule": ("CREATE TABLE t_rule (id int PRIMARY KEY, b int); CREATE RULE no_delete AS ON DELETE TO t_rule DO "
             "INSTEAD NOTHING", "t_rule", "rule no_delete on public.t_rule"),
    "policy": ("CREATE TABLE t_pol (id int PRIMARY KEY, b int); CREATE POLICY mine ON t_pol USING (b > 0)",
               "t_pol", "policy mine on public.t_pol"),
    "publication": ("CREATE TABLE t_pub (id int PRIMARY KEY, b int); CREATE PUBLICATION oc_pub FOR TABLE t_pub",
                    "t_pub", "publication oc_pub"),
    "materialized view": ("CREATE TABLE t_mv (id int PRIMARY KEY, b int); CREATE MATERIALIZED VIEW t_mv_sum AS "
                          "SELECT sum(b) FROM t_mv", "t_mv", "materialized view public.t_mv_sum"),
    "view on a view": ("CREATE TABLE t_vv (id int PRIMARY KEY, b int); CREATE VIEW t_vv_1 AS SELECT * FROM t_vv; "
                       "CREATE VIEW t_vv_2 AS SELECT * FROM t_vv_1", "t_vv", "view public.t_vv_2"),
    "column grant": (f"CREATE TABLE t_colgrant (id int PRIMARY KEY, b int); GRANT SELECT (b) ON t_colgrant TO {ROLE}",
                     "t_colgrant", "column grant on public.t_colgrant.b"),
    "partitioned": ("CREATE TABLE t_part (id int PRIMARY KEY, b int) PARTITION BY RANGE (id)", "t_part",
                    "partitioning of public.t_part"),
    "inheritance": ("CREATE TABLE t_parent (id int PRIMARY KEY, b int); CREATE TABLE t_child () INHERITS "
                    "(t_parent)", "t_parent", "inheritance "),
    "foreign key from a partitioned table": (
        "CREATE TABLE t_ref (id int PRIMARY KEY, b int); CREATE TABLE t_refp (id int, r int REFERENCES t_ref (id)) "
        "PARTITION BY RANGE (id)", "t_ref", "foreign key t_refp_r_fkey on public.t_refp"),
    "row type in use": ("CREATE TABLE t_rowtype (id int PRIMARY KEY, b int); CREATE TABLE t_holder "
                        "(id int PRIMARY KEY, r t_rowtype)", "t_rowtype", "t_holder"),
}


@pytest.fixture
def reader_role(pg_db):
    query(pg_db, f"CREATE ROLE {ROLE}")
    try:
        yield ROLE
    finally:
        query(pg_db, f"DROP OWNED BY {ROLE}; DROP ROLE {ROLE}")


def test_each_unsupported_shape_is_refused_naming_the_object_and_nothing_changes(pg_db, tmp_path, reader_role):
    for setup, _table, _named in SHAPES.values():
        query(pg_db, setup)
    before = query(pg_db, "SELECT count(*) FROM pg_class")
    for case, (_setup, table, named) in SHAPES.items():
        migrations = tmp_path / case.replace(" ", "_")
        write_set(migrations, "1_change", manifest={"online_change": {
            "table": table, "alter": ["ALTER COLUMN b TYPE bigint"], "revert": ["ALTER COLUMN b TYPE int"]}})
        with pytest.raises(DbopsError) as refused:
            run(pg_db, migrations)
        assert named in str(refused.value), (case, str(refused.value))
        assert "nothing was changed" in str(refused.value) and "migration.yml" in str(refused.value)
    assert query(pg_db, "SELECT count(*) FROM pg_class") == before
    assert query(pg_db, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'online_change_%%'") == [(0,)]
