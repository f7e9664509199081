"""mongodb.yml and mongodb.py parsing, the destructive guard on code, and the pure helpers of the operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import (
    MigrationFailed,
    MigrationFormatError,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.destructive_guard import (
    python_findings,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.arrays import (
    SplitArray,
    walk,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.fields import missing_root
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.indexes import default_name
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.operations.updates import unset_fields
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part import load_python_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part_outline import (
    outline_python_part,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.read_only_db import ReadOnlyDatabase
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part import parse_yaml_part

PATH = Path("migrations/2024.002_x/mongodb.yml")


def test_yaml_part_parses_every_operation_kind():
    part = parse_yaml_part("""
settings: {batch_size: 500, pause_ms: 10}
operations:
  - create_collection: {name: content_blocks}
  - create_index: {collection: courses, keys: {publication.status: 1, stats.ratings.average: -1},
                    options: {background: true}}
  - drop_index: {collection: courses, name: title_1, missing_ok: true}
  - add_field: {collection: users, field: preferences, default: {theme: light}, filter: {active: true}}
  - rename_field: {collection: users, from: name, to: profile.name}
  - set_validator: {collection: users, validator: {$jsonSchema: {bsonType: object}}, level: moderate, action: warn}
  - rename_collection: {from: a, to: b}
  - update_many: {collection: users, update: [{$set: {x: 1}}], inverse: {update: [{$unset: x}]}}
  - split_array: {collection: courses, path: curriculum.lessons, into: content_blocks, move: [content],
                  reference: content_block_id}
  - drop_collection: {name: legacy}
validate:
  - {collection: users, filter: {preferences: {$exists: false}}, count: 0}
""", PATH, "2024.002")
    assert [op.kind for op in part.operations] == [
        "create_collection", "create_index", "drop_index", "add_field", "rename_field", "set_validator",
        "rename_collection", "update_many", "split_array", "drop_collection"]
    assert part.settings.batch_size == 500 and len(part.checks) == 1
    index = part.operations[1]
    assert index.name == "publication.status_1_stats.ratings.average_-1" and "background" not in index.options
    assert part.raw_operations[0] == ("create_collection", {"name": "content_blocks"})


def test_yaml_dates_become_datetimes():
    part = parse_yaml_part("operations:\n  - add_field: {collection: u, field: since, default: 2024-01-31}\n",
                           PATH, "1")
    assert part.operations[0].default.isoformat() == "2024-01-31T00:00:00+00:00"


@pytest.mark.parametrize(("text", "expected"), [
    ("operations:\n  - rename_field: {collection: u, from: a, to: a.b}\n", r"operation 1 \(rename_field\): 'from'"),
    ("operations:\n  - split_array: {collection: c, path: x, into: y, reference: r}\n", r"give 'move'"),
    ("operations:\n  - split_array: {collection: c, path: x.y, into: z, move: [m], reference: r, "
     "fields: {a: $nowhere.b}}\n", r"names no level of path"),
    ("operations:\n  - add_field: {collection: system.users, field: a, default: 1}\n", r"not a valid collection"),
    ("operations:\n  - add_field: {collection: u, field: $bad, default: 1}\n", r"not a valid field path"),
    ("operations:\n  - create_index: {collection: u, keys: {}}\n", r"at least one field"),
    ("operations:\n  - drop_index: {collection: u, name: _id_}\n", r"_id index cannot be dropped"),
    ("settings: {batch_size: 0}\noperations:\n  - drop_collection: {name: x}\n", r"settings.batch_size"),
    ("oops: 1\noperations:\n  - drop_collection: {name: x}\n", r"unknown top-level key\(s\) oops"),
])
def test_yaml_part_errors_name_the_file_and_operation(text, expected):
    with pytest.raises(MigrationFormatError, match=expected) as caught:
        parse_yaml_part(text, PATH, "2024.002")
    assert str(caught.value).startswith(f"2024.002 ({PATH}): ")


def test_python_part_settings_and_docstring(tmp_path):
    part = load_python_part('"""Split course content."""\nBATCH_SIZE = 250\nPAUSE_MS = 5\nDRY_RUN_SAFE = True\n'
                            "def up(db, ctx): pass\ndef down(db, ctx): pass\n", tmp_path / "mongodb.py", "1")
    outline = part.outline
    assert (outline.batch_size, outline.pause_ms, outline.dry_run_safe, part.validate) == (250, 5, True, None)
    assert outline.description == "Split course content." and part.path == tmp_path / "mongodb.py"


def test_outline_reads_a_code_part_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    source = (f'"""Split course content."""\nimport pathlib\npathlib.Path({str(marker)!r}).write_text("x")\n'
              "raise SystemExit('the module body ran')\nBATCH_SIZE = 250\nPAUSE_MS: int = 5\nDRY_RUN_SAFE = True\n"
              "def up(db, ctx): pathlib.Path('up').write_text('x')\ndef down(db, ctx, *more): pass\n"
              "def validate(db, ctx=None): pass\n")
    outline = outline_python_part(source, tmp_path / "mongodb.py", "1")
    assert not marker.exists()
    assert (outline.batch_size, outline.pause_ms, outline.dry_run_safe) == (250, 5, True)
    assert outline.functions == {"up", "down", "validate"} and outline.has_validate
    assert outline.description == "Split course content."


def test_outline_accepts_functions_bound_otherwise(tmp_path):
    outline = outline_python_part("from somewhere import up\ndown = lambda db, ctx: None\n", tmp_path / "m.py", "1")
    assert outline.functions == {"up", "down"} and outline.batch_size is None and outline.pause_ms == 0


@pytest.mark.parametrize(("source", "expected"), [
    ("BATCH_SIZE = 10 * 50\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n", r"BATCH_SIZE must be a literal"),
    ("from cfg import PAUSE_MS\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n", r"PAUSE_MS must be a literal"),
    ("DRY_RUN_SAFE = 1\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n", r"DRY_RUN_SAFE must be a bool"),
    ("BATCH_SIZE = True\ndef up(db, ctx): pass\ndef down(db, ctx): pass\n", r"BATCH_SIZE must be an integer"),
    ("def up(db, ctx, extra): pass\ndef down(db, ctx): pass\n", r"up must take two arguments .*line 1"),
    ("def up(db, ctx, *, flag): pass\ndef down(db, ctx): pass\n", r"up must take two arguments"),
    ("async def up(db, ctx): pass\ndef down(db, ctx): pass\n", r"up must be a plain function"),
    ("def up(db, ctx): pass\nif True:\n    def down(db, ctx): pass\n", r"defines no down\(db, ctx\)"),
    ("def up(db, ctx):\n    return (\n", r"syntax error at line \d"),
])
def test_outline_refuses_what_it_cannot_read(tmp_path, source, expected):
    with pytest.raises(MigrationFormatError, match=expected):
        outline_python_part(source, tmp_path / "mongodb.py", "1")


def test_destructive_guard_reads_code_outside_down_and_validate():
    findings = python_findings("""
def helper(db):
    db.drop_collection("old")

def up(db, ctx):
    db.users.update_many({}, {"$unset": {"legacy": ""}})
    db.command("dropDatabase")

def down(db, ctx):
    db.content_blocks.drop()
    db.users.delete_many({})
""")
    assert findings == ["drop_collection() at line 3", "$unset at line 6", "command('dropDatabase') at line 7"]


def test_missing_root():
    assert missing_root({}, "a.b.c") == "a"
    assert missing_root({"a": {}}, "a.b.c") == "a.b"
    assert missing_root({"a": {"b": {"x": 1}}}, "a.b.c") == "a.b.c"
    assert missing_root({"x": 1}, "x") == "x"


def test_unset_fields_of_documents_and_pipelines():
    assert unset_fields({"$unset": {"a": "", "b.c": ""}, "$set": {"d": 1}}) == ["a", "b.c"]
    assert unset_fields([{"$unset": "a"}, {"$unset": ["b", "c"]}, {"$project": {"d": 0, "_id": 0, "e": 1}}]) == [
        "a", "b", "c", "d"]
    assert default_name([("a", 1), ("b.c", -1)]) == "a_1_b.c_-1"


def test_split_array_transform_walks_nested_arrays():
    op = SplitArray.parse({"collection": "courses", "path": "curriculum.lessons", "into": "blocks",
                           "move": ["content"], "when": "content", "reference": "block_id", "ids_field": "block_ids",
                           "fields": {"course": "$root.slug", "module": "$curriculum.order", "kind": "$lessons.type"},
                           "defaults": {"kind": "text"}, "set": {"meta.from": "curriculum"}})
    root = {"_id": 1, "slug": "intro", "curriculum": [
        {"order": 0, "lessons": [{"t": "a", "content": "A", "type": "video"}, {"t": "b"}]},
        {"order": 1, "lessons": [{"t": "c", "content": "C", "block_id": "already"}, {"t": "d", "content": "D"}]},
        {"order": 2}]}
    new_value, created = op.transform(root, now=None)
    assert [(d["course"], d["module"], d["kind"], d["content"], d["meta"]) for d in created] == [
        ("intro", 0, "video", "A", {"from": "curriculum"}), ("intro", 1, "text", "D", {"from": "curriculum"})]
    lessons = [found[0] for found in walk({"curriculum": new_value}, ["curriculum", "lessons"])]
    assert lessons[0] == {"t": "a", "type": "video", "block_id": created[0]["_id"]}
    assert lessons[2] == {"t": "c", "content": "C", "block_id": "already"}  # already migrated: untouched
    assert root["curriculum"][0]["lessons"][0]["content"] == "A"  # the input is not modified


def test_read_only_database_refuses_writes():
    class Coll:
        name = "users"

        def find(self, *a):
            return ["doc"]

    class Db:
        def __getitem__(self, name):
            return Coll()

    db = ReadOnlyDatabase(Db())
    assert db.users.find({}) == ["doc"]
    for write in (lambda: db.users.insert_one({}), lambda: db["users"].update_many({}, {}),
                  lambda: db.users.aggregate([{"$match": {}}, {"$out": "x"}]), lambda: db.command("drop")):
        with pytest.raises(MigrationFailed, match="read-only database: .* would write"):
            write()
