"""sqitch.plan read as migration sets: versions by position, requirements, conflicts, tags, reworked changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.discovery import detect_format, discover
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.sqitch_plan import (
    parse_plan,
    script_stem,
    sqitch_version,
)

P = "Ann Op <ann@example.com>"
PLAN = f"""%syntax-version=1.0.0
%project=flipr
%uri=https://example.com/flipr/

appschema 2024-01-01T10:00:00Z {P} # App schema.
users [appschema] 2024-01-02T10:00:00Z {P} # Users # and a hash.
@v1.0 2024-01-03T10:00:00Z {P} # Release.
users [users@v1.0 !nothing] 2024-01-04T10:00:00Z {P} # Users again.
flips [@v1.0 other:thing] 2024-01-05T10:00:00Z {P}
"""
PATH = Path("sqitch.plan")


def test_changes_tags_and_pragmas():
    plan = parse_plan(PLAN, PATH)
    assert plan.project == "flipr"
    assert plan.uri == "https://example.com/flipr/"
    assert plan.pragmas["syntax-version"] == "1.0.0"
    assert [(c.version, c.name) for c in plan.changes] == [("0001", "appschema"), ("0002", "users"),
                                                           ("0003", "users"), ("0004", "flips")]
    assert [(t.name, t.position) for t in plan.tags] == [("v1.0", 2)]
    assert plan.change_at(2).note == "Users # and a hash."
    assert plan.change_at(4).note == ""
    assert plan.change_at(3).conflicts[0].change == "nothing"
    assert plan.change_at(1).planner_email == "ann@example.com"


def test_requirements_become_versions():
    plan = parse_plan(PLAN, PATH)
    assert plan.depends_on(plan.change_at(2)) == ("0001",)
    assert plan.depends_on(plan.change_at(3)) == ("0002",)  # users@v1.0: the instance current at the tag
    assert plan.depends_on(plan.change_at(4)) == ("0002",)  # @v1.0; other:thing is another project's
    assert not plan.is_local(plan.change_at(4).requires[1])


def test_reworked_instance_uses_its_tagged_scripts():
    plan = parse_plan(PLAN, PATH)
    old, new = plan.change_at(2), plan.change_at(3)
    assert old.rework_tags == ("v1.0",) and not new.is_reworked
    existing = {"deploy/users@v1.0.sql", "deploy/users.sql"}
    assert script_stem(old, existing) == "users@v1.0"
    assert script_stem(new, existing) == "users"
    assert script_stem(old, {"deploy/users.sql"}) is None


def test_version_is_zero_padded_position_and_sorts_naturally():
    assert sqitch_version(7) == "0007"
    assert sqitch_version(12345) == "12345"


@pytest.mark.parametrize("plan, message", [
    (f"%project=x\na 2024-01-01T10:00:00Z {P}\na 2024-01-02T10:00:00Z {P}\n", "no tag in between"),
    (f"%project=x\na [b] 2024-01-01T10:00:00Z {P}\n", "requires 'b', which is not earlier"),
    (f"%project=x\na 2024-01-01T10:00:00Z {P}\nb [!a] 2024-01-02T10:00:00Z {P}\n", "conflicts with 'a'"),
    (f"a 2024-01-01T10:00:00Z {P}\n", "no %project"),
    (f"%project=x\n@t 2024-01-01T10:00:00Z {P}\n", "before any change"),
    (f"%project=x\na 2024-01-01 {P}\n", "not a change line"),
    (f"%project=x\na [HEAD^] 2024-01-01T10:00:00Z {P}\n", "relative to another"),
    (f"%project=x\n-a 2024-01-01T10:00:00Z {P}\n", "revert"),
])
def test_malformed_plans_are_refused(plan, message):
    with pytest.raises(MigrationFormatError, match=message):
        parse_plan(plan, PATH).depends_on(parse_plan(plan, PATH).changes[-1])


def _project(root: Path, scripts: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sqitch.plan").write_text(PLAN)
    for relative, text in scripts.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


SCRIPTS = {
    "deploy/appschema.sql": "BEGIN;\nCREATE SCHEMA flipr;\nCOMMIT;\n",
    "revert/appschema.sql": "DROP SCHEMA flipr;\n",
    "verify/appschema.sql": "SELECT 1;\n",
    "deploy/users@v1.0.sql": "CREATE TABLE flipr.users (id int);\n",
    "deploy/users.sql": "ALTER TABLE flipr.users ADD COLUMN IF NOT EXISTS email text;\n",
    "revert/users.sql": "-- nothing to undo\n",
    "deploy/flips.sql": "CREATE TABLE flipr.flips (id int);\n",
}


def test_discovery_reads_a_sqitch_project(tmp_path):
    root = _project(tmp_path, SCRIPTS)
    assert detect_format(root) == "sqitch"
    fmt, sets = discover(root)
    assert fmt == "sqitch"
    assert [(s.version, s.slug, s.source_format) for s in sets] == [
        ("0001", "appschema", "sqitch"), ("0002", "users", "sqitch"), ("0003", "users", "sqitch"),
        ("0004", "flips", "sqitch")]
    assert sets[1].postgres.up_path.name == "users@v1.0.sql"
    assert sets[0].postgres.down_sql == "DROP SCHEMA flipr;\n"
    assert sets[0].postgres.verify_sql == "SELECT 1;\n"
    assert sets[2].postgres.down_sql is None  # a revert with no SQL: irreversible
    assert sets[2].manifest.depends_on == ("0002",)
    assert sets[2].manifest.path == root / "sqitch.plan"


def test_missing_deploy_script_is_refused(tmp_path):
    scripts = dict(SCRIPTS)
    del scripts["deploy/users@v1.0.sql"]
    with pytest.raises(MigrationFormatError, match=r"no deploy script deploy/users@v1.0.sql"):
        discover(_project(tmp_path, scripts))


def test_script_link_outside_the_project_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.sql"
    outside.write_text("SELECT 1;\n")
    root = _project(tmp_path / "p", SCRIPTS)
    (root / "verify" / "flips.sql").symlink_to(outside)
    with pytest.raises(MigrationFormatError, match="outside migrations_dir"):
        discover(root)


def test_custom_layout_in_sqitch_conf_is_refused(tmp_path):
    root = _project(tmp_path, SCRIPTS)
    (root / "sqitch.conf").write_text("[core]\n\tengine = pg\n\ttop_dir = db\n")
    with pytest.raises(MigrationFormatError, match="top_dir"):
        discover(root)
