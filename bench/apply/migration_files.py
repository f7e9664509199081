"""The same N one-table migrations, written in the layout each contender reads.

Every contender runs the identical DDL, so the benchmark measures the tools, not the SQL.
"""

from __future__ import annotations

from pathlib import Path


def table_name(index: int) -> str:
    return f"bench_t{index:04d}"


def create_sql(index: int) -> str:
    return (f"CREATE TABLE {table_name(index)} (\n"
            "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
            "    name text NOT NULL,\n"
            "    created_at timestamptz NOT NULL DEFAULT now()\n"
            ");\n")


def drop_sql(index: int) -> str:
    return f"DROP TABLE {table_name(index)};\n"


def write_native(root: Path, count: int) -> Path:
    """sevenp.dbops migration sets: <version>_<slug>/ with migration.yml and postgres.{up,down}.sql."""
    root.mkdir(parents=True)
    for index in range(1, count + 1):
        set_dir = root / f"{index:04d}_create_{table_name(index)}"
        set_dir.mkdir()
        (set_dir / "migration.yml").write_text(f"description: create {table_name(index)}\n")
        (set_dir / "postgres.up.sql").write_text(create_sql(index))
        (set_dir / "postgres.down.sql").write_text(drop_sql(index))
    return root


def write_dbmate(root: Path, count: int) -> Path:
    """dbmate: one <timestamp-like version>_<name>.sql per migration with migrate:up / migrate:down sections."""
    root.mkdir(parents=True)
    for index in range(1, count + 1):
        body = f"-- migrate:up\n{create_sql(index)}\n-- migrate:down\n{drop_sql(index)}"
        (root / f"{20240101000000 + index}_create_{table_name(index)}.sql").write_text(body)
    return root


def write_sqitch(root: Path, count: int) -> Path:
    """Sqitch: sqitch.conf, a plan of N changes, and deploy/revert scripts (each its own transaction, as
    `sqitch add`'s default templates do)."""
    for sub in ("deploy", "revert", "verify"):
        (root / sub).mkdir(parents=True)
    (root / "sqitch.conf").write_text("[core]\n\tengine = pg\n\tplan_file = sqitch.plan\n\ttop_dir = .\n")
    plan = ["%syntax-version=1.0.0", "%project=dbops_bench", "%uri=https://example.invalid/dbops_bench", ""]
    for index in range(1, count + 1):
        name = table_name(index)
        plan.append(f"{name} 2024-01-01T00:00:00Z Bench <bench@example.invalid> # create {name}")
        (root / "deploy" / f"{name}.sql").write_text(f"BEGIN;\n{create_sql(index)}COMMIT;\n")
        (root / "revert" / f"{name}.sql").write_text(f"BEGIN;\n{drop_sql(index)}COMMIT;\n")
        (root / "verify" / f"{name}.sql").write_text(f"SELECT id FROM {name} WHERE false;\n")
    (root / "sqitch.plan").write_text("\n".join(plan) + "\n")
    return root
