"""mongodb.py migrations: up/down/validate with ctx, check mode running no code, format errors, the destructive
guard, drift."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    DestructiveChangeRefused,
    DriftError,
    MigrationFailed,
    MigrationFormatError,
    ValidationFailed,
)
from tests.support.mongo_migrations import ledger_status, run, snapshot, write_mongo_set

PREFERENCES = """
    '''Add the user preferences structure (the strategy document's 2024.001).'''
    BATCH_SIZE = 7
    DRY_RUN_SAFE = True

    def up(db, ctx):
        assert ctx.settings["batch_size"] == ctx.batch_size
        def handler(docs, writer):
            for doc in docs:
                writer.update_one("users", {"_id": doc["_id"]}, {"$set": {
                    "preferences": {"theme": "light"}, "metadata.migration_version": ctx.version}})
        ctx.each_batch("users", handler, filter={"preferences": {"$exists": False}}, projection={"_id": 1})
        ctx.log(f"checkpoint after {ctx.checkpoint('users')}")

    def down(db, ctx):
        def handler(docs, writer):
            for doc in docs:
                writer.update_one("users", {"_id": doc["_id"]}, {"$unset": {"preferences": "", "metadata": ""}})
        ctx.each_batch("users", handler, filter={"metadata.migration_version": ctx.version})

    def validate(db, ctx):
        return db.users.count_documents({"preferences": {"$exists": False}}) == 0
"""


@pytest.fixture
def users(mdb):
    mdb.users.insert_many([{"n": i, "email": f"u{i}@example.org"} for i in range(30)])
    return mdb


def test_apply_validate_and_roll_back(mongo_server, users, migrations):
    write_mongo_set(migrations, "2024.001_user_preferences", py=PREFERENCES)
    before = snapshot(users)
    result = run(mongo_server, users.name, migrations)
    assert result.applied == ["2024.001"]
    assert users.users.count_documents({"preferences.theme": "light", "metadata.migration_version": "2024.001"}) == 30
    assert any("each_batch users" in q and "30 documents in 5 batches" in q for q in result.queries)
    entry = users.dbops_migrations.find_one({"_id": "2024.001"})
    assert entry["status"] == "applied" and entry["kind"] == "python" and entry["applied_by"]
    assert entry["topology"]["transactions"] is True and entry["oplog_ts_before"] is not None
    run(mongo_server, users.name, migrations, state="rolled_back", target="0")
    assert snapshot(users) == before
    assert ledger_status(users) == {"2024.001": "rolled_back"}


MARKING = """
    '''Writes a marker file and a document from its top level and from up(): proof of having run.'''
    import pathlib
    import pymongo

    MARKER = pathlib.Path({marker!r})
    MARKER.with_suffix(".module").write_text("the module body ran")
    pymongo.MongoClient({uri!r})[{db!r}].ran.insert_one({{"by": "module body"}})
    BATCH_SIZE = 25
    DRY_RUN_SAFE = True

    def up(db, ctx):
        MARKER.with_suffix(".up").write_text("up ran")
        db.ran.insert_one({{"by": "up"}})

    def down(db, ctx):
        MARKER.with_suffix(".down").write_text("down ran")

    def validate(db, ctx):
        return True
"""


def test_check_mode_runs_no_migration_code(mongo_server, users, migrations, tmp_path):
    marker = tmp_path / "marker"
    write_mongo_set(migrations, "1_marks", py=MARKING.format(marker=str(marker), uri=mongo_server, db=users.name))
    names = sorted(users.list_collection_names())
    result = run(mongo_server, users.name, migrations, check_mode=True)
    assert result.changed is True and result.applied == ["1"]
    assert sorted(tmp_path.glob("marker*")) == []  # neither the module body nor up() ran
    assert sorted(users.list_collection_names()) == names and "ran" not in names
    statements = result.plan[0]["statements"]["mongodb"]
    assert statements[0] == "// will run mongodb.py:up(db, ctx) (batch size 25, pause 0 ms, transactions)"
    assert "not executed in check mode" in statements[1] and "up()" in statements[1]
    assert "DRY_RUN_SAFE is ignored" in statements[2] and statements[3] == "// then mongodb.py:validate(db, ctx)"
    assert any("not executed in check mode" in q for q in result.queries)


def test_check_mode_rollback_plan_runs_no_migration_code(mongo_server, users, migrations, tmp_path):
    marker = tmp_path / "marker"
    write_mongo_set(migrations, "1_marks", py=MARKING.format(marker=str(marker), uri=mongo_server, db=users.name))
    run(mongo_server, users.name, migrations)  # a real run runs the module body and up()
    assert marker.with_suffix(".module").exists() and marker.with_suffix(".up").exists()
    for path in tmp_path.glob("marker*"):
        path.unlink()
    documents = users.ran.count_documents({})
    result = run(mongo_server, users.name, migrations, state="rolled_back", target="0", check_mode=True)
    assert result.rolled_back == ["1"]
    assert sorted(tmp_path.glob("marker*")) == [] and users.ran.count_documents({}) == documents
    assert result.plan[0]["statements"]["mongodb"][0] == "// will run mongodb.py:down(db, ctx)"
    assert ledger_status(users) == {"1": "applied"}


def test_validate_gets_a_read_only_database(mongo_server, users, migrations):
    write_mongo_set(migrations, "1_sloppy", py="""
        def up(db, ctx):
            db.users.update_one({"n": 1}, {"$set": {"flag": True}})
        def down(db, ctx):
            db.users.update_many({}, {"$unset": {"flag": ""}})
        def validate(db, ctx):
            db.users.update_many({}, {"$set": {"x": 1}})
            return True
    """)
    before = snapshot(users)
    with pytest.raises(ValidationFailed, match=r"read-only database: db.users.update_many would write"):
        run(mongo_server, users.name, migrations)
    assert users.users.count_documents({"x": 1}) == 0
    assert snapshot(users) == before  # compensated
    assert ledger_status(users) == {"1": "rolled_back"}


def test_failing_up_runs_down_and_records_failed(mongo_server, users, migrations):
    write_mongo_set(migrations, "1_breaks", py="""
        def up(db, ctx):
            db.users.update_many({}, {"$set": {"half": True}})
            raise RuntimeError("the third step broke")

        def down(db, ctx):
            db.users.update_many({"half": True}, {"$unset": {"half": ""}})
    """)
    before = snapshot(users)
    with pytest.raises(MigrationFailed) as caught:
        run(mongo_server, users.name, migrations)
    message = str(caught.value)
    assert "mongodb.py" in message and "RuntimeError: the third step broke (mongodb.py line 4)" in message
    assert message.endswith("the MongoDB part was undone")
    assert snapshot(users) == before
    entry = users.dbops_migrations.find_one({"_id": "1"})
    assert entry["status"] == "failed" and "the third step broke" in entry["error"]


def test_validate_false_fails_the_set_and_compensates(mongo_server, users, migrations):
    write_mongo_set(migrations, "1_invalid", py="""
        def up(db, ctx):
            db.users.update_one({"n": 1}, {"$set": {"flag": True}})
        def down(db, ctx):
            db.users.update_many({}, {"$unset": {"flag": ""}})
        def validate(db, ctx):
            return db.users.count_documents({"flag": True}) == 30
    """)
    before = snapshot(users)
    with pytest.raises(ValidationFailed, match=r"validate\(db, ctx\) returned False.*compensated"):
        run(mongo_server, users.name, migrations)
    assert snapshot(users) == before
    assert ledger_status(users) == {"1": "rolled_back"}


@pytest.mark.parametrize(("source", "expected"), [
    ("def up(db, ctx):\n    return (\n\ndef down(db, ctx):\n    pass\n", r"syntax error at line \d"),
    ("def up(db, ctx):\n    pass\n", r"defines no down\(db, ctx\) function"),
    ("def down(db, ctx):\n    pass\n", r"defines no up\(db, ctx\) function"),
    ("def up(db):\n    pass\ndef down(db, ctx):\n    pass\n", r"up must take two arguments"),
    ("import no_such_module_here\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n",
     r"loading failed: ModuleNotFoundError.*line 1"),
    ("BATCH_SIZE = 0\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n", r"BATCH_SIZE must be an integer >= 1"),
])
def test_malformed_code_migration_is_refused_before_anything_changes(
        mongo_server, users, migrations, source, expected):
    write_mongo_set(migrations, "1_first", yml={"operations": [
        {"create_index": {"collection": "users", "keys": {"n": 1}, "name": "n_1"}}]})
    path = write_mongo_set(migrations, "2_broken", py=source) / "mongodb.py"
    before = snapshot(users)
    with pytest.raises(MigrationFormatError, match=expected) as caught:
        run(mongo_server, users.name, migrations)
    assert str(caught.value).startswith(f"2 ({path}): ")
    assert snapshot(users) == before
    assert "dbops_migrations" not in users.list_collection_names()


@pytest.mark.parametrize(("document", "expected"), [
    ("operations: [", r"YAML syntax error at line \d+, column \d+"),
    ("- just a list", r"must be a mapping with an 'operations' list"),
    ("operations: []", r"'operations' must be a non-empty list"),
    ("operations:\n  - create_index: {collection: users, keys: {n: 1}}\n  - add_field: {collection: users}\n",
     r"operation 2 \(add_field\): missing required key 'field'"),
    ("operations:\n  - frobnicate: {collection: users}\n", r"operation 1 \(frobnicate\): unknown operation"),
    ("operations:\n  - {create_index: {collection: u, keys: {a: 1}}, drop_index: {collection: u, name: a}}\n",
     r"operation 1: each operation is a mapping with exactly one key"),
    ("operations:\n  - update_many: {collection: users, filter: {}, update: {$set: {a: 1}}}\n",
     r"operation 1 \(update_many\): update_many needs an explicit 'inverse"),
    ("operations:\n  - create_index: {collection: users, keys: {n: 2}}\n",
     r"operation 1 \(create_index\): index direction of 'n'"),
    ("operations:\n  - set_validator: {collection: users, validator: {}, level: loose}\n",
     r"operation 1 \(set_validator\): 'level' must be one of"),
    ("operations:\n  - add_field: {collection: users, field: a, default: 1, colour: red}\n",
     r"operation 1 \(add_field\): unknown key\(s\) 'colour'"),
    ("operations:\n  - drop_index: {collection: users, name: n_1}\nvalidate:\n  - {collection: users}\n",
     r"validate check 1: give count, max or min"),
])
def test_malformed_mongodb_yml_names_the_file_and_operation(mongo_server, users, migrations, document, expected):
    path = write_mongo_set(migrations, "1_broken", yml=document) / "mongodb.yml"
    before = snapshot(users)
    with pytest.raises(MigrationFormatError, match=expected) as caught:
        run(mongo_server, users.name, migrations)
    assert str(caught.value).startswith(f"1 ({path}): ")
    assert snapshot(users) == before and "dbops_migrations" not in users.list_collection_names()


def test_destructive_code_is_refused_unless_allowed(mongo_server, users, migrations):
    write_mongo_set(migrations, "1_drop", py="""
        def up(db, ctx):
            db.legacy.drop()
            db.users.update_many({}, {"$unset": {"email": ""}})

        def down(db, ctx):
            db.users.delete_many({"never": True})
    """)
    users.legacy.insert_one({"old": True})
    before = snapshot(users)
    with pytest.raises(DestructiveChangeRefused, match=r"drop\(\) at line 3; \$unset at line 4"):
        run(mongo_server, users.name, migrations)
    assert snapshot(users) == before
    result = run(mongo_server, users.name, migrations, allow_destructive=True)
    assert result.applied == ["1"] and any("destructive change allowed" in w for w in result.warnings)


def test_drift_of_an_applied_mongodb_part(mongo_server, users, migrations):
    directory = write_mongo_set(migrations, "1_ix", yml={"operations": [
        {"create_index": {"collection": "users", "keys": {"email": 1}, "name": "email_1"}}]})
    run(mongo_server, users.name, migrations)
    (directory / "mongodb.yml").write_text((directory / "mongodb.yml").read_text() + "# edited\n")
    with pytest.raises(DriftError, match=r"drift: the mongodb part was applied with checksum"):
        run(mongo_server, users.name, migrations)
    result = run(mongo_server, users.name, migrations, allow_drift=True)
    assert result.changed is False and any("accepted (allow_drift)" in w for w in result.warnings)
    # The rollback undoes what was recorded when it was applied, not what the edited file says now.
    (directory / "mongodb.yml").write_text("operations:\n  - drop_index: {collection: users, name: other}\n")
    run(mongo_server, users.name, migrations, state="rolled_back", target="0", allow_drift=True)
    assert [ix["name"] for ix in users.users.list_indexes()] == ["_id_"]


def test_manifest_validate_mongodb_checks(mongo_server, users, migrations):
    write_mongo_set(migrations, "1_ix", yml={"operations": [
        {"create_index": {"collection": "users", "keys": {"email": 1}, "name": "email_1"}}]},
        manifest={"description": "email index", "validate": {"mongodb": [
            {"collection": "users", "index": "email_1"},
            {"collection": "users", "filter": {"email": {"$exists": False}}, "max": 0}]}})
    assert run(mongo_server, users.name, migrations).applied == ["1"]
