"""Sets with a PostgreSQL and a MongoDB part, through the generic coordinator, on real servers: PostgreSQL part,
then MongoDB part, then both validations; a failure undoes what was applied; a crash between the two parts is
finished (on_partial: resume) or undone (on_partial: compensate) by the next run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed, ValidationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from tests.support.mongo_migrations import ledger_status, snapshot, write_mongo_set

RUNNER = Path(__file__).resolve().parents[3] / "support" / "engine_runner.py"

PG_UP = """
    CREATE TABLE lessons (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        course_slug text NOT NULL,
        title text NOT NULL
    );
    ALTER TABLE lessons ADD COLUMN content_block_id text;
    INSERT INTO lessons (course_slug, title) VALUES ('intro', 'lesson 0'), ('intro', 'lesson 1');
"""
PG_DOWN = "DROP TABLE lessons;"

MONGO_SPLIT = {"operations": [
    {"create_collection": {"name": "content_blocks"}},
    {"split_array": {"collection": "courses", "path": "lessons", "into": "content_blocks", "move": ["content"],
                     "fields": {"course_slug": "$root.slug", "title": "$lessons.title"},
                     "reference": "content_block_id", "ids_field": "content_block_ids"}}],
    "validate": [{"collection": "courses", "filter": {"lessons.content": {"$exists": True}}, "count": 0}]}


@pytest.fixture
def both(pg_db, pg_cluster, pg_db_name, mdb, mongo_server):
    """(request kwargs, pg snapshot function, mongo database) with a base table and base documents."""
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE courses (slug text PRIMARY KEY, title text NOT NULL)")
        conn.execute("INSERT INTO courses VALUES ('intro', 'Introduction'), ('sql', 'SQL')")
    mdb.courses.insert_many([
        {"slug": s, "lessons": [{"title": f"lesson {i}", "content": f"{s} text {i}"} for i in range(2)]}
        for s in ("intro", "sql")])

    def pg_state() -> tuple[str, list]:
        with psycopg.connect(pg_db) as conn:
            tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                                  "ORDER BY 1").fetchall()
            data = [(t, conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for (t,) in tables]
        return pg_cluster.schema_dump(pg_db_name), data

    kwargs = {"postgres_dsn": pg_db, "mongodb_uri": mongo_server, "mongodb_database": mdb.name,
              "runner_lock_wait_s": 10}
    return kwargs, pg_state, mdb


def run(kwargs, migrations, **extra):
    return engine.run(engine.RunRequest(migrations_dir=str(migrations), **{**kwargs, **extra}))


def pg_ledger(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT version, status FROM dbops.schema_migrations").fetchall())


def test_apply_both_parts_then_roll_back_both(both, migrations):
    kwargs, pg_state, mdb = both
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=MONGO_SPLIT)
    pg_before, mongo_before = pg_state(), snapshot(mdb, ordered_fields=False)
    result = run(kwargs, migrations)
    assert result.applied == ["2024.004"]
    assert result.sets[0]["parts"] == {"postgres": "applied", "mongodb": "applied"}
    order = [q for q in result.queries if "CREATE TABLE lessons" in q or "split_array" in q]
    assert "CREATE TABLE lessons" in order[0]  # PostgreSQL part first
    assert mdb.content_blocks.count_documents({}) == 4
    assert pg_ledger(kwargs["postgres_dsn"]) == {"2024.004": "applied"}
    assert ledger_status(mdb) == {"2024.004": "applied"}
    status = run(kwargs, migrations, state="status")
    assert status.current == "2024.004" and status.pending == []
    result = run(kwargs, migrations, state="rolled_back", target="0")
    assert result.rolled_back == ["2024.004"]
    assert result.sets[0]["parts"] == {"postgres": "rolled_back", "mongodb": "rolled_back"}
    assert pg_state() == pg_before
    assert snapshot(mdb, ordered_fields=False) == mongo_before


def test_failing_mongodb_validation_undoes_the_postgres_part(both, migrations):
    kwargs, pg_state, mdb = both
    bad = {**MONGO_SPLIT, "validate": [{"collection": "content_blocks", "count": 99}]}
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=bad)
    pg_before, mongo_before = pg_state(), snapshot(mdb, ordered_fields=False)
    with pytest.raises(ValidationFailed) as caught:
        run(kwargs, migrations)
    message = str(caught.value)
    assert "content_blocks: 4 documents match {}, expected == 99" in message
    assert "mongodb part compensated" in message and "postgres part compensated" in message
    assert pg_state() == pg_before  # pg_dump --schema-only and every row
    assert snapshot(mdb, ordered_fields=False) == mongo_before
    assert pg_ledger(kwargs["postgres_dsn"]) == {"2024.004": "rolled_back"}
    assert ledger_status(mdb) == {"2024.004": "rolled_back"}
    outcome = caught.value.result.sets[0]
    assert outcome["status"] == "failed" and outcome["parts"] == {"postgres": "rolled_back", "mongodb": "rolled_back"}


def test_failing_mongodb_part_undoes_the_postgres_part(both, migrations):
    kwargs, pg_state, mdb = both
    broken = {"operations": [*MONGO_SPLIT["operations"],
                             {"drop_index": {"collection": "courses", "name": "missing_index"}}]}
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=broken)
    pg_before, mongo_before = pg_state(), snapshot(mdb, ordered_fields=False)
    with pytest.raises(MigrationFailed, match=r"operation 3 \(drop_index\) failed.*postgres part compensated"):
        run(kwargs, migrations)
    assert pg_state() == pg_before
    assert snapshot(mdb, ordered_fields=False) == mongo_before
    assert ledger_status(mdb) == {"2024.004": "failed"}
    assert pg_ledger(kwargs["postgres_dsn"]) == {"2024.004": "rolled_back"}


def crash_between_parts(kwargs, migrations) -> None:
    """Run the engine in a process that kills itself (SIGKILL) when it is about to apply the MongoDB part."""
    request = {"migrations_dir": str(migrations), **kwargs}
    proc = subprocess.run([sys.executable, str(RUNNER), json.dumps(request), "--die-before-part", "mongodb",
                           "--mongo-lock-ttl", "1"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -9, (proc.returncode, proc.stdout, proc.stderr)


def test_crash_between_the_parts_then_resume(both, migrations):
    kwargs, pg_state, mdb = both
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=MONGO_SPLIT)
    crash_between_parts(kwargs, migrations)
    assert pg_ledger(kwargs["postgres_dsn"]) == {"2024.004": "applied"}
    assert "dbops_migrations" not in mdb.list_collection_names() or ledger_status(mdb) == {}
    status = run(kwargs, migrations, state="status")
    assert status.current == "0" and status.pending == ["2024.004"]  # half-applied is not applied
    result = run(kwargs, migrations, on_partial="resume")
    assert result.applied == ["2024.004"] and result.sets[0]["action"] == "resume"
    assert result.sets[0]["parts"] == {"postgres": "applied", "mongodb": "applied"}
    assert ledger_status(mdb) == {"2024.004": "applied"} and mdb.content_blocks.count_documents({}) == 4
    with psycopg.connect(kwargs["postgres_dsn"]) as conn:  # the PostgreSQL part ran once
        assert conn.execute("SELECT count(*) FROM lessons").fetchone() == (2,)


def test_crash_between_the_parts_then_compensate(both, migrations):
    kwargs, pg_state, mdb = both
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=MONGO_SPLIT)
    pg_before, mongo_before = pg_state(), snapshot(mdb, ordered_fields=False)
    crash_between_parts(kwargs, migrations)
    result = run(kwargs, migrations, on_partial="compensate")
    assert result.rolled_back == ["2024.004"] and result.applied == []
    assert result.sets[0]["action"] == "compensate" and result.sets[0]["parts"]["postgres"] == "rolled_back"
    assert any("compensated" in w for w in result.warnings)
    assert pg_state() == pg_before
    assert snapshot(mdb, ordered_fields=False) == mongo_before
    assert pg_ledger(kwargs["postgres_dsn"]) == {"2024.004": "rolled_back"}
    # Nothing half-applied is left: the next run applies the set from scratch.
    assert run(kwargs, migrations).applied == ["2024.004"]


def test_check_mode_with_both_databases_changes_neither(both, migrations):
    kwargs, pg_state, mdb = both
    write_mongo_set(migrations, "2024.004_lesson_content_blocks", pg_up=PG_UP, pg_down=PG_DOWN, yml=MONGO_SPLIT)
    pg_before, names = pg_state(), sorted(mdb.list_collection_names())
    result = run(kwargs, migrations, check_mode=True)
    assert result.changed is True and result.plan[0]["parts"] == ["postgres", "mongodb"]
    assert set(result.plan[0]["statements"]) == {"postgres", "mongodb"}
    assert pg_state() == pg_before and sorted(mdb.list_collection_names()) == names
