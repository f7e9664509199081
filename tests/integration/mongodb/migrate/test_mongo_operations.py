"""Each declarative operation of mongodb.yml, applied and rolled back on a real server (SecantusDB over the wire):
after the rollback, every collection's documents, index specs and validation options are what they were."""

from __future__ import annotations

import pytest

from tests.support.mongo_migrations import ledger_status, run, snapshot, write_mongo_set


@pytest.fixture
def seeded(mdb):
    """users (some with a nested prefs document), courses with nested curriculum arrays, an index, a validator."""
    mdb.users.insert_many([
        {"n": i, "name": f"user{i}", "email": f"u{i}@example.org", **({"prefs": {"lang": "de"}} if i % 3 == 0 else {}),
         **({"preferences": {"theme": "dark"}} if i == 7 else {})}
        for i in range(40)])
    # (SecantusDB 0.7.0b3 answers queries on a non-prefix field from a sparse partial index, wrongly: the index
    # here covers fields the tests never query.)
    mdb.users.create_index([("legacy_code", 1), ("signup", -1)], name="legacy_code_1_signup_-1", sparse=True,
                           partialFilterExpression={"legacy_code": {"$exists": True}})
    mdb.courses.insert_many([
        {"title": f"course {c}", "curriculum": [
            {"order": m, "title": f"module {m}", "lessons": [
                {"_id": f"c{c}m{m}l{le}", "title": f"lesson {le}", "type": "video" if le else None, "order": le,
                 **({"content": {"body": f"text {c}.{m}.{le}"}} if le != 2 else {})}
                for le in range(3)]}
            for m in range(2)]}
        for c in range(6)])
    mdb.create_collection("events", validator={"$jsonSchema": {"bsonType": "object", "required": ["kind"]}},
                          validationLevel="moderate", validationAction="warn")
    mdb.events.insert_many([{"kind": "login", "seq": i} for i in range(5)])
    return mdb


def apply_then_rollback(mongo_server, mdb, migrations, operations, *, ordered_fields=True, check=None, **kwargs):
    write_mongo_set(migrations, "1_op", yml={"operations": operations})
    before = snapshot(mdb, ordered_fields=ordered_fields)
    result = run(mongo_server, mdb.name, migrations, **kwargs)
    assert result.applied == ["1"]
    assert ledger_status(mdb) == {"1": "applied"}
    if check:
        # A check asserts inside (returning None) or returns whether it holds: a False result fails the test.
        outcome = check(mdb)
        assert outcome is None or outcome is True, f"check {check.__name__} failed on the applied state: {outcome!r}"
    assert snapshot(mdb, ordered_fields=ordered_fields) != before
    result = run(mongo_server, mdb.name, migrations, state="rolled_back", target="0")
    assert result.rolled_back == ["1"]
    assert ledger_status(mdb) == {"1": "rolled_back"}
    assert snapshot(mdb, ordered_fields=ordered_fields) == before
    assert mdb.dbops_touched.count_documents({}) == 0 and mdb.dbops_progress.count_documents({}) == 0
    return result


def test_create_index(mongo_server, seeded, migrations):
    def check(db):
        spec = next(ix for ix in db.users.list_indexes() if ix["name"] == "idx_email")
        assert list(spec["key"].items()) == [("email", 1), ("n", -1)] and spec["unique"] is True

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"create_index": {"collection": "users", "keys": {"email": 1, "n": -1}, "name": "idx_email",
                          "options": {"unique": True, "collation": {"locale": "en", "strength": 2}}}}], check=check)


def test_create_index_on_a_new_collection_leaves_no_collection_behind(mongo_server, seeded, migrations):
    apply_then_rollback(mongo_server, seeded, migrations, [
        {"create_index": {"collection": "user_progress", "keys": [["user_id", 1], ["time_tracking.last", -1]],
                          "name": "idx_user_recent_activity"}}],
        check=lambda db: "user_progress" in db.list_collection_names())


def test_drop_index_keeps_the_full_spec(mongo_server, seeded, migrations):
    result = apply_then_rollback(mongo_server, seeded, migrations, [
        {"drop_index": {"collection": "users", "name": "legacy_code_1_signup_-1"}}],
        check=lambda db: "legacy_code_1_signup_-1" not in [ix["name"] for ix in db.users.list_indexes()])
    assert any('"partialFilterExpression"' in q and '"sparse": true' in q for q in result.queries)


def test_add_field_unsets_only_the_documents_it_touched(mongo_server, seeded, migrations):
    def check(db):
        assert db.users.count_documents({"preferences.theme": "light"}) == 39
        assert db.users.find_one({"n": 7})["preferences"] == {"theme": "dark"}  # had it: untouched

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"add_field": {"collection": "users", "field": "preferences", "default": {"theme": "light"}}}],
        check=check, batch_size=7)


def test_add_field_nested_path_removes_the_parents_it_created(mongo_server, seeded, migrations):
    def check(db):
        assert db.users.find_one({"n": 3})["prefs"] == {"lang": "de", "notifications": {"email": True}}
        assert db.users.find_one({"n": 1})["prefs"] == {"notifications": {"email": True}}

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"add_field": {"collection": "users", "field": "prefs.notifications.email", "default": True,
                       "filter": {"n": {"$lt": 30}}}}], check=check, batch_size=8)


def test_rename_field(mongo_server, seeded, migrations):
    def check(db):
        doc = db.users.find_one({"n": 5})
        assert "name" not in doc and doc["profile"] == {"display_name": "user5"}

    # $rename moves a field to the end of its document: compared with field order ignored.
    apply_then_rollback(mongo_server, seeded, migrations, [
        {"rename_field": {"collection": "users", "from": "name", "to": "profile.display_name"}}],
        ordered_fields=False, check=check, batch_size=9)


def test_set_validator_restores_previous_validator_level_and_action(mongo_server, seeded, migrations):
    def check(db):
        options = next(db.list_collections(filter={"name": "events"}))["options"]
        assert options["validationLevel"] == "strict" and options["validationAction"] == "error"
        assert options["validator"]["$jsonSchema"]["required"] == ["kind", "seq"]

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"set_validator": {"collection": "events", "validator": {"$jsonSchema": {
            "bsonType": "object", "required": ["kind", "seq"], "properties": {"seq": {"bsonType": "int"}}}}}}],
        check=check)


def test_set_validator_on_a_collection_without_one(mongo_server, seeded, migrations):
    apply_then_rollback(mongo_server, seeded, migrations, [
        {"set_validator": {"collection": "users", "validator": {"email": {"$type": "string"}}, "level": "moderate",
                           "action": "warn"}}])


def test_create_and_rename_collection(mongo_server, seeded, migrations):
    def check(db):
        names = db.list_collection_names()
        assert "audit_log" in names and "events" not in names and "happenings" in names

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"create_collection": {"name": "audit_log", "options": {
            "validator": {"$jsonSchema": {"bsonType": "object", "required": ["at"]}}}}},
        {"rename_collection": {"from": "events", "to": "happenings"}}], check=check)


def test_update_many_with_pipeline_and_its_inverse(mongo_server, seeded, migrations):
    def check(db):
        assert db.users.find_one({"n": 2})["email_domain"] == "example.org"

    apply_then_rollback(mongo_server, seeded, migrations, [
        {"update_many": {
            "collection": "users", "filter": {"email": {"$exists": True}},
            "update": [{"$set": {"email_domain": {"$arrayElemAt": [{"$split": ["$email", "@"]}, 1]}}}],
            "inverse": {"filter": {"email_domain": {"$exists": True}}, "update": [{"$unset": "email_domain"}]}}}],
        check=check)


SPLIT = {"split_array": {
    "collection": "courses", "path": "curriculum.lessons", "into": "content_blocks", "move": ["content"],
    "fields": {"course_id": "$root._id", "lesson_id": "$lessons._id", "type": "$lessons.type",
               "metadata.module_order": "$curriculum.order", "metadata.lesson_order": "$lessons.order"},
    "defaults": {"type": "text"}, "set": {"metadata.migrated_from": "course_curriculum"},
    "timestamps": ["created_at"], "reference": "content_block_id", "ids_field": "content_block_ids"}}


def test_split_array_into_content_blocks(mongo_server, seeded, migrations):
    def check(db):
        course = db.courses.find_one({"title": "course 1"})
        lessons = [le for m in course["curriculum"] for le in m["lessons"]]
        moved = [le for le in lessons if "content_block_id" in le]
        assert len(moved) == 4 and all("content" not in le for le in lessons)
        assert course["content_block_ids"] == [le["content_block_id"] for le in moved]
        block = db.content_blocks.find_one({"_id": moved[0]["content_block_id"]})
        assert block["content"] == {"body": "text 1.0.0"} and block["type"] == "text"  # default for a null type
        assert block["metadata"] == {"module_order": 0, "lesson_order": 0, "migrated_from": "course_curriculum"}
        assert db.content_blocks.count_documents({}) == 24

    # The moved field goes back at the end of its lesson: compared with field order ignored.
    apply_then_rollback(mongo_server, seeded, migrations,
                        [{"create_collection": {"name": "content_blocks"}}, SPLIT,
                         {"create_index": {"collection": "content_blocks", "keys": {"course_id": 1},
                                           "name": "course_id_1"}}],
                        ordered_fields=False, check=check, batch_size=4)


def test_rollback_keeps_edits_made_to_the_split_out_documents(mongo_server, seeded, migrations):
    operations = [{"create_collection": {"name": "content_blocks"}}, SPLIT]
    write_mongo_set(migrations, "1_split", yml={"operations": operations})
    run(mongo_server, seeded.name, migrations)
    course = seeded.courses.find_one({"title": "course 0"})
    block_id = course["curriculum"][1]["lessons"][0]["content_block_id"]
    seeded.content_blocks.update_one({"_id": block_id}, {"$set": {"content.body": "edited after the split"}})
    run(mongo_server, seeded.name, migrations, state="rolled_back", target="0")
    course = seeded.courses.find_one({"title": "course 0"})
    assert course["curriculum"][1]["lessons"][0]["content"] == {"body": "edited after the split"}
    assert "content_blocks" not in seeded.list_collection_names()


def test_a_failing_operation_undoes_the_ones_before_it(mongo_server, seeded, migrations):
    write_mongo_set(migrations, "1_fails", yml={"operations": [
        {"create_index": {"collection": "users", "keys": {"email": 1}, "name": "email_1"}},
        {"add_field": {"collection": "users", "field": "flags", "default": []}},
        {"drop_index": {"collection": "users", "name": "no_such_index"}}]})
    before = snapshot(seeded)
    with pytest.raises(Exception) as caught:
        run(mongo_server, seeded.name, migrations)
    message = str(caught.value)
    assert message.startswith("1 (") and "mongodb.yml" in message
    assert "operation 3 (drop_index)" in message and "no_such_index" in message and "undone" in message
    assert snapshot(seeded) == before
    entry = seeded.dbops_migrations.find_one({"_id": "1"})
    assert entry["status"] == "failed" and "no_such_index" in entry["error"]
    assert [op["state"] for op in entry["ops"]] == ["undone", "undone", "pending"]


def test_drop_collection_is_destructive_and_irreversible(mongo_server, seeded, migrations):
    write_mongo_set(migrations, "1_drop", yml={"operations": [{"drop_collection": {"name": "events"}}]})
    before = snapshot(seeded)
    with pytest.raises(Exception, match=r"destructive change refused .*drop_collection events \(5 documents\)"):
        run(mongo_server, seeded.name, migrations)
    assert snapshot(seeded) == before and "dbops_migrations" not in seeded.list_collection_names()
    run(mongo_server, seeded.name, migrations, allow_destructive=True)
    assert "events" not in seeded.list_collection_names()
    with pytest.raises(Exception, match=r"cannot roll back: operation 1 .*destroyed data; nothing was changed"):
        run(mongo_server, seeded.name, migrations, state="rolled_back", target="0")
    assert ledger_status(seeded) == {"1": "applied"}


def test_unset_of_populated_fields_is_destructive(mongo_server, seeded, migrations):
    write_mongo_set(migrations, "1_unset", yml={"operations": [{"update_many": {
        "collection": "users", "filter": {}, "update": {"$unset": {"email": ""}},
        "inverse": {"filter": {}, "update": {"$set": {"email": "lost"}}}}}]})
    with pytest.raises(Exception, match=r"removes users.email, which holds data in 40 documents"):
        run(mongo_server, seeded.name, migrations)
    assert seeded.users.count_documents({"email": {"$exists": True}}) == 40


def test_check_mode_plans_and_writes_nothing(mongo_server, seeded, migrations):
    write_mongo_set(migrations, "1_all", yml={"operations": [
        {"create_collection": {"name": "content_blocks"}}, SPLIT,
        {"add_field": {"collection": "users", "field": "preferences", "default": {"theme": "light"}}}]})
    before = snapshot(seeded)
    collections = sorted(seeded.list_collection_names())
    result = run(mongo_server, seeded.name, migrations, check_mode=True)
    assert result.changed is True and result.applied == ["1"]
    assert any("createCollection" in q for q in result.queries)
    assert sorted(seeded.list_collection_names()) == collections  # not even the ledger
    assert snapshot(seeded) == before


def test_rerun_is_unchanged_and_status_shows_the_part(mongo_server, seeded, migrations):
    write_mongo_set(migrations, "1_ix", yml={"operations": [
        {"create_index": {"collection": "users", "keys": {"email": 1}, "name": "email_1"}}]})
    assert run(mongo_server, seeded.name, migrations).changed is True
    again = run(mongo_server, seeded.name, migrations)
    assert again.changed is False and again.applied == [] and again.current == "1"
    status = run(mongo_server, seeded.name, migrations, state="status")
    assert status.current == "1" and status.pending == []
