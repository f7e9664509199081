"""Cluster-time spellings, mongodump file names and metadata, archive coverage."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from bson import Binary, Int64, Timestamp

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import change_archive as archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import dump_layout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    parse_position,
    parse_target,
    position,
)


def test_positions_sort_like_timestamps():
    stamps = [Timestamp(9, 100), Timestamp(10, 2), Timestamp(10, 11), Timestamp(1795607061, 14)]
    assert sorted(position(t) for t in stamps) == [position(t) for t in sorted(stamps)]
    assert parse_position(position(Timestamp(1795607061, 14))) == Timestamp(1795607061, 14)
    assert parse_position("1795607061:14") == Timestamp(1795607061, 14)


@pytest.mark.parametrize("value, cluster, wall", [
    (Timestamp(5, 6), Timestamp(5, 6), None),
    ("5.6", Timestamp(5, 6), None),
    ({"t": 5, "i": 6}, Timestamp(5, 6), None),
    ({"cluster_time": {"t": 5, "i": 6}, "time": "2026-01-01T00:00:00Z"}, Timestamp(5, 6), None),
    ("2026-11-25T14:01:00Z", None, datetime(2026, 11, 25, 14, 1, tzinfo=UTC)),
    (datetime(2026, 11, 25, 14, 1), None, datetime(2026, 11, 25, 14, 1, tzinfo=UTC)),
])
def test_restore_targets(value, cluster, wall):
    target = parse_target(value)
    assert target.cluster_time == cluster and target.wall_time == wall


def test_bad_targets_fail_clearly():
    with pytest.raises(DbopsError, match="invalid time"):
        parse_target("yesterday")


@pytest.mark.parametrize("name, escaped", [
    ("orders", "orders"),
    ("a.b-c_d~e", "a.b-c_d~e"),
    ("with space", "with+space"),
    ("slash/percent%", "slash%2Fpercent%25"),
    ("cafés", "caf%C3%A9s"),  # the name of mongorestore's own test fixture for this case
])
def test_collection_names_are_escaped_like_mongodump(name, escaped):
    assert dump_layout.escape_collection_name(name) == escaped
    assert dump_layout.unescape_collection_name(escaped) == name


def test_long_collection_names_are_cut_with_a_hash():
    escaped = dump_layout.escape_collection_name("x" * 300)
    assert len(escaped) == 238 and escaped[208:211] == "%24"


def test_metadata_matches_mongodumps_format():
    info = {"name": "foo", "type": "collection", "options": {},
            "info": {"readOnly": False, "uuid": Binary(bytes.fromhex("0679db720f4944de90ae27472664e94a"), 4)}}
    indexes = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, {"v": 2, "key": {"f": 1.0}, "name": "f_1"}]
    text = dump_layout.metadata_json(dump_layout.metadata_document(info, indexes)).decode()
    # mongorestore's own fixture for a collection with an index, plus the "type" newer mongodumps add
    assert text == ('{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},'
                    '{"v":{"$numberInt":"2"},"key":{"f":{"$numberDouble":"1.0"}},"name":"f_1"}],'
                    '"uuid":"0679db720f4944de90ae27472664e94a","collectionName":"foo","type":"collection"}')
    parsed = dump_layout.parse_metadata_json(text.encode())
    assert parsed["indexes"][1]["key"] == {"f": 1.0} and parsed["collectionName"] == "foo"


def test_metadata_keeps_options_and_types():
    info = {"name": "c", "options": {"capped": True, "size": Int64(4096)}, "info": {}}
    doc = dump_layout.metadata_document(info, [])
    assert list(doc) == ["options", "indexes", "collectionName", "type"]
    assert '"size":{"$numberLong":"4096"}' in dump_layout.metadata_json(doc).decode()


def test_chunk_encoding_is_deterministic_and_readable():
    import bson

    raws = [bson.encode({"op": "i", "ts": Timestamp(1, i), "o": {"_id": i}}) for i in range(3)]
    data = archive.encode_chunk(raws)
    assert data == archive.encode_chunk(raws)
    assert [e["o"]["_id"] for e in archive.decode_entries(data)] == [0, 1, 2]
    assert gzip.decompress(data) == b"".join(raws)  # plain concatenated BSON: mongorestore --oplogFile input


def chunk(start: int, end: int, wall: int | None = None) -> archive.Chunk:
    return archive.Chunk(range_id=f"r{start}-{end}", key=f"k{start}", start=Timestamp(start, 0),
                         end=Timestamp(end, 0), count=1,
                         end_wall=datetime.fromtimestamp(wall or end, UTC))


def checkpoint(covered: int, chain_end: int) -> archive.Checkpoint:
    return archive.Checkpoint(database="d", covered_until=Timestamp(covered, 0),
                              covered_wall=datetime.fromtimestamp(covered, UTC), chain_end=Timestamp(chain_end, 0))


def test_coverage_follows_contiguous_chunks_from_inside_the_first():
    chunks = [chunk(10, 20), chunk(20, 30), chunk(30, 40)]
    cov = archive.coverage_from(chunks, Timestamp(25, 0), None)
    assert [c.range_id for c in cov.chunks] == ["r20-30", "r30-40"]
    assert cov.end == Timestamp(40, 0) and cov.gap_after is None


def test_coverage_stops_at_a_gap():
    chunks = [chunk(10, 20), chunk(25, 30)]
    cov = archive.coverage_from(chunks, Timestamp(10, 0), checkpoint(50, 30))
    assert cov.end == Timestamp(20, 0) and cov.gap_after == Timestamp(20, 0)


def test_coverage_tolerates_overlapping_chunks():
    chunks = [chunk(10, 20), chunk(10, 20), chunk(15, 25), chunk(20, 30)]
    cov = archive.coverage_from(sorted(chunks, key=lambda c: (c.start, c.end)), Timestamp(10, 0), None)
    assert cov.end == Timestamp(30, 0)


def test_checkpoint_extends_coverage_only_from_the_chain_end():
    chunks = [chunk(10, 20)]
    assert archive.coverage_from(chunks, Timestamp(10, 0), checkpoint(60, 20)).end == Timestamp(60, 0)
    # a checkpoint written when the chain ended elsewhere says nothing about this chain
    assert archive.coverage_from(chunks, Timestamp(10, 0), checkpoint(60, 15)).end == Timestamp(20, 0)
    # an idle archive (no chunk yet) that started before the dump covers up to its checkpoint
    assert archive.coverage_from([], Timestamp(12, 0), checkpoint(60, 10)).end == Timestamp(60, 0)
    assert archive.coverage_from([], Timestamp(12, 0), checkpoint(60, 14)).end == Timestamp(12, 0)
