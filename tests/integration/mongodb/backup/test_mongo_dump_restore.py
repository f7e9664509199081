"""A dump in mongodump's layout, read back with bson, and a restore that gives the same contents and indexes."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import uuid

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import dump_layout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    database_digests,
    index_specs,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import plan_dump, take_dump
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.restore import restore
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog

ODD_NAME = "odd name/é"


def seed(db) -> None:
    now = dt.datetime(2026, 11, 25, 14, 1, 2, 345000, tzinfo=dt.UTC)
    db.create_collection("people", validator={"$jsonSchema": {"bsonType": "object", "required": ["name"]}},
                         validationLevel="moderate")
    db.people.insert_many([
        {"_id": ObjectId(), "name": f"p{i}", "age": i, "big": Int64(2**40 + i), "price": Decimal128(f"{i}.10"),
         "at": now + dt.timedelta(seconds=i), "blob": Binary(bytes([i]) * 3), "uid": Binary(uuid.uuid4().bytes, 4),
         "tags": ["a", {"nested": [i, None, True]}], "re": Regex("^p", "i"), "code": Code("x+1"),
         "ts": Timestamp(1000 + i, 1), "lo": MinKey(), "hi": MaxKey(), "none": None, "f": 1.5}
        for i in range(50)
    ])
    db.people.create_index([("name", 1)], unique=True, name="name_unique")
    db.people.create_index([("age", -1), ("name", 1)], name="age_desc_name")
    db.people.create_index([("age", 1)], name="adults", partialFilterExpression={"age": {"$gte": 18}})
    db.people.create_index([("at", 1)], name="ttl_at", expireAfterSeconds=10**9)
    db.people.create_index([("nick", 1)], name="nick_sparse", sparse=True)
    db.create_collection("log", capped=True, size=1 << 20)
    db.log.insert_many([{"_id": i, "msg": f"m{i}"} for i in range(20)])
    db[ODD_NAME].insert_one({"_id": "x", "z": 1, "a": 2})  # field order z, a is part of the document
    db.create_collection("empty")
    db.command("create", "adults_view", viewOn="people", pipeline=[{"$match": {"age": {"$gte": 18}}}])


def test_dump_layout_and_round_trip(mongo_server, mclient, mongo_db_name, repo):
    source = mclient[mongo_db_name]
    seed(source)
    planned = plan_dump(mongo_server, mongo_db_name)
    assert planned["consistency"] in ("snapshot", "oplog") and planned["views"] == ["adults_view"]
    assert planned["collections"] == sorted(["empty", "log", "people", ODD_NAME])
    assert not list(repo.list(""))  # planning writes nothing
    record = take_dump(mongo_server, repo, mongo_db_name)

    assert record.consistency in ("snapshot", "oplog")
    assert record.cluster_time and record.oplog_end == record.cluster_time
    assert record.counts == {"empty": 0, "log": 20, "people": 50, ODD_NAME: 1}
    assert record.views == ["adults_view"]
    assert record.size_bytes == sum(o["size"] for o in record.objects) > 0
    assert Catalog(repo).get_backup(record.backup_id).details["cluster_time"] == record.cluster_time

    # --- layout: exactly mongodump --gzip [--oplog] for one database
    prefix = record.key_prefix
    keys = {info.key[len(prefix):] for info in repo.list(prefix)}
    escaped = dump_layout.escape_collection_name(ODD_NAME)
    assert escaped == "odd+name%2F%C3%A9"
    expected = {"prelude.json.gz", "oplog.bson", f"{mongo_db_name}/adults_view.metadata.json.gz"}
    for name in ("empty", "log", "people", escaped):
        expected |= {f"{mongo_db_name}/{name}.bson.gz", f"{mongo_db_name}/{name}.metadata.json.gz"}
    assert keys == expected
    for key in keys:
        assert repo.head(prefix + key).sha256 == next(o["sha256"] for o in record.objects if o["key"] == prefix + key)

    # --- read it back with bson alone, as mongorestore would
    people_bson = gzip.decompress(repo.get_bytes(f"{prefix}{mongo_db_name}/people.bson.gz"))
    dumped = sorted(bson.decode_all(people_bson, codec_options=bson.CodecOptions(tz_aware=True)),
                    key=lambda d: d["_id"])
    assert dumped == list(source.people.find().sort("_id", 1))
    odd = bson.decode_all(gzip.decompress(repo.get_bytes(f"{prefix}{mongo_db_name}/{escaped}.bson.gz")))
    assert list(odd[0]) == ["_id", "z", "a"]
    meta = dump_layout.parse_metadata_json(
        gzip.decompress(repo.get_bytes(f"{prefix}{mongo_db_name}/people.metadata.json.gz")))
    info = next(source.list_collections(filter={"name": "people"}))
    assert meta["collectionName"] == "people" and meta["type"] == "collection"
    assert meta["uuid"] == bytes(info["info"]["uuid"]).hex() and re.fullmatch(r"[0-9a-f]{32}", meta["uuid"])
    assert meta["options"] == info["options"]
    assert [dict(i) for i in meta["indexes"]] == [dict(i) for i in source.people.list_indexes()]
    raw_meta = gzip.decompress(repo.get_bytes(f"{prefix}{mongo_db_name}/people.metadata.json.gz")).decode()
    assert '"v":{"$numberInt":"2"}' in raw_meta  # canonical Extended JSON, like mongodump
    view_meta = dump_layout.parse_metadata_json(
        gzip.decompress(repo.get_bytes(f"{prefix}{mongo_db_name}/adults_view.metadata.json.gz")))
    assert view_meta["type"] == "view" and view_meta["options"]["viewOn"] == "people"
    # oplog.bson: gzip content under the plain name (mongorestore --gzip --oplogReplay reads exactly this)
    window = bson.decode_all(gzip.decompress(repo.get_bytes(f"{prefix}oplog.bson")))
    assert len(window) == record.oplog_entries
    prelude = gzip.decompress(repo.get_bytes(f"{prefix}prelude.json.gz"))
    assert b"ServerVersion" in prelude

    # --- restore into another database: same documents (byte for byte), same indexes, options and view
    copy = mongo_db_name + "_copy"
    result = restore.restore(mongo_server, repo, mongo_db_name, target_database=copy)
    assert result.changed and result.verified and result.moved_aside_to
    assert database_digests(mclient, copy) == _renamed(database_digests(mclient, mongo_db_name))
    for name in ("people", "log", ODD_NAME, "empty"):
        assert index_specs(mclient[copy], name) == index_specs(source, name), name
    copied = {i["name"]: i for i in mclient[copy].list_collections()}
    assert copied["people"]["options"] == info["options"]
    assert copied["log"]["options"]["capped"] is True
    assert copied["adults_view"]["type"] == "view"
    assert mclient[copy].adults_view.count_documents({}) == 32
    with pytest.raises(Exception, match="(?i)valid"):
        mclient[copy].people.insert_one({"no_name": 1})
    assert not [n for n in mclient.list_database_names() if n.startswith(copy + "__dbops_rs")]

    # --- a second run finds the work done
    again = restore.restore(mongo_server, repo, mongo_db_name, target_database=copy)
    assert not again.changed and again.verified


def _renamed(digests):
    return dict(digests.items())


def test_corrupted_dump_is_detected_before_anything_is_touched(mongo_server, mclient, mongo_db_name, repo):
    mclient[mongo_db_name].items.insert_many([{"_id": i} for i in range(10)])
    record = take_dump(mongo_server, repo, mongo_db_name)
    mclient[mongo_db_name].items.insert_one({"_id": "after"})
    before = database_digests(mclient, mongo_db_name)
    path = repo.root / record.key_prefix / mongo_db_name / "items.bson.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RestoreError, match="checksum mismatch.*items.bson.gz.*nothing was touched"):
        restore.restore(mongo_server, repo, mongo_db_name)
    assert database_digests(mclient, mongo_db_name) == before
    assert mclient.dbops_restore.journal.find_one({"_id": mongo_db_name}) is None


def test_existing_fail_refuses_a_populated_database(mongo_server, mclient, mongo_db_name, repo):
    mclient[mongo_db_name].items.insert_one({"_id": 1})
    take_dump(mongo_server, repo, mongo_db_name)
    with pytest.raises(RestoreError, match="existing=fail; nothing was touched"):
        restore.restore(mongo_server, repo, mongo_db_name, existing="fail")


def test_a_restore_killed_during_the_swap_is_completed_by_a_rerun(mongo_server, mclient, mongo_db_name, repo,
                                                                  monkeypatch):
    db = mclient[mongo_db_name]
    for name in ("a", "b", "c"):
        db[name].insert_many([{"_id": i, "c": name} for i in range(5)])
    take_dump(mongo_server, repo, mongo_db_name)
    expected = database_digests(mclient, mongo_db_name)
    for name in ("a", "b", "c"):
        db[name].insert_one({"_id": "later"})
    real_move = restore._move
    calls = {"n": 0}

    def dying_move(client, source_db, target_db, name, *, by_copy):
        calls["n"] += 1
        if calls["n"] == 5:  # three collections moved aside, one moved in: then the process "dies"
            raise SystemExit("killed")
        real_move(client, source_db, target_db, name, by_copy=by_copy)

    monkeypatch.setattr(restore, "_move", dying_move)
    with pytest.raises(SystemExit):
        restore.restore(mongo_server, repo, mongo_db_name)
    assert mclient.dbops_restore.journal.find_one({"_id": mongo_db_name})["phase"] == "install"
    monkeypatch.setattr(restore, "_move", real_move)
    result = restore.restore(mongo_server, repo, mongo_db_name)
    assert result.changed and result.verified
    assert database_digests(mclient, mongo_db_name) == expected
    aside = mclient[result.moved_aside_to]
    assert sorted(aside.list_collection_names()) == ["a", "b", "c"]
    assert aside.a.count_documents({}) == 6  # the pre-restore data is kept, never deleted
