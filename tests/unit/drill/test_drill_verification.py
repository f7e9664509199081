"""Placing acknowledged writes against a recovery point, and the RPO that follows (pure functions, no servers)."""

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.acknowledgements import Ack, AckLog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.verification import (
    AFTER,
    BEFORE,
    IN_FLIGHT,
    RecoveryPointMark,
    place,
    timeline,
    verify,
)

MARK = RecoveryPointMark(started_at=100.0, finished_at=100.2, postgres_lsn="0/5000100", mongodb_op_time=(100, 5))


def pg(seq: int, before: str, after: str, at: float = 99.0) -> Ack:
    return Ack("postgres", seq, at - 0.001, at, lsn_before=before, lsn_after=after)


def mongo(seq: int, op_time: tuple[int, int], at: float = 99.0) -> Ack:
    return Ack("mongodb", seq, at - 0.001, at, op_time=op_time)


def test_postgres_writes_are_placed_by_wal_position_not_by_clock():
    # Acknowledged "after" the point by the clock, but its commit record ended before the point's record.
    assert place(pg(1, "0/5000000", "0/5000080", at=101.0), MARK) == (BEFORE, "wal position")
    assert place(pg(2, "0/5000100", "0/5000200", at=99.0), MARK) == (AFTER, "wal position")
    assert place(pg(3, "0/50000F0", "0/5000180"), MARK) == (IN_FLIGHT, "wal position")


def test_mongodb_writes_at_the_point_count_as_before_it():
    assert place(mongo(1, (100, 5)), MARK)[0] == BEFORE
    assert place(mongo(2, (100, 6)), MARK)[0] == AFTER
    assert place(mongo(3, (99, 900)), MARK)[0] == BEFORE


def test_without_positions_the_wall_clock_decides_and_the_point_interval_is_in_flight():
    mark = RecoveryPointMark(started_at=100.0, finished_at=100.2)
    assert place(Ack("postgres", 1, 99.0, 99.5), mark)[0] == BEFORE
    assert place(Ack("postgres", 2, 100.1, 100.15), mark)[0] == IN_FLIGHT
    assert place(Ack("postgres", 3, 100.3, 100.4), mark)[0] == AFTER


def _acks() -> list[Ack]:
    acks = [pg(seq, f"0/{0x5000000 + seq * 0x10:X}", f"0/{0x5000000 + seq * 0x10 + 8:X}") for seq in range(1, 31)]
    acks += [mongo(seq, (100, seq)) for seq in range(1, 11)]
    return acks


def test_exact_restore_verifies_with_rpo_zero():
    # PostgreSQL: seqs 1..15 end before 0/5000100; seq 16 starts at it. MongoDB: 1..5 at or before (100, 5).
    result, fates = verify(_acks(), {}, {"postgres": set(range(1, 16)), "mongodb": set(range(1, 6))}, MARK)
    assert result.verified and result.rpo_writes_lost == 0 and result.rpo_seconds == 0
    assert result.databases["postgres"].before_point == 15
    assert result.databases["postgres"].after_point == 15
    assert result.databases["mongodb"].before_point == 5
    assert fates["postgres"][15] == "kept" and fates["postgres"][16] == "discarded"


def test_a_missing_acknowledged_write_is_lost_and_counted_in_the_rpo():
    result = verify(_acks(), {}, {"postgres": set(range(1, 15)), "mongodb": set(range(1, 6))}, MARK)[0]
    assert not result.verified
    assert result.rpo_writes_lost == 1
    assert result.databases["postgres"].lost_examples == [15]


def test_a_write_after_the_point_that_came_back_is_an_overshoot():
    result = verify(_acks(), {}, {"postgres": set(range(1, 16)), "mongodb": set(range(1, 7))}, MARK)[0]
    assert not result.verified and result.rpo_writes_lost == 0
    assert result.databases["mongodb"].overshoot == 1


def test_a_hole_in_the_restored_sequence_is_out_of_order():
    acks = [pg(seq, "0/1000000", "0/1000008") for seq in range(1, 6)]
    result = verify(acks, {}, {"postgres": {1, 2, 4, 5}}, MARK)[0]
    assert result.databases["postgres"].out_of_order == 2
    assert result.databases["postgres"].lost == 1


def test_nothing_restored_at_all_is_not_verified():
    result = verify(_acks(), {}, {"postgres": set(), "mongodb": set()}, MARK)[0]
    assert not result.verified
    assert result.rpo_writes_lost == 20
    assert result.rpo_seconds > 0


def test_timeline_counts_writes_per_bucket_and_fate():
    acks = [Ack("postgres", seq, 10.0 + seq, 10.0 + seq + 0.01) for seq in range(1, 11)]
    fates = {"postgres": {seq: ("kept" if seq <= 5 else "discarded") for seq in range(1, 11)}}
    picture = timeline(acks, fates, max_buckets=10, origin=10.0, until=21.0)
    series = picture["series"]["postgres"]
    assert sum(series["kept"]) == 5 and sum(series["discarded"]) == 5
    assert picture["buckets"] == len(series["kept"])


def test_ack_log_ignores_a_torn_last_line(tmp_path):
    log = AckLog(tmp_path / "acks.jsonl").open_for_append()
    log.record_ack(pg(1, "0/10", "0/20"))
    log.record_ack(mongo(1, (5, 1)))
    log.close()
    with open(tmp_path / "acks.jsonl", "a") as handle:
        handle.write('{"kind":"ack","db":"postgres","seq":2')
    acks = AckLog(tmp_path / "acks.jsonl").acks()
    assert [(ack.db, ack.seq) for ack in acks] == [("postgres", 1), ("mongodb", 1)]
    assert acks[1].op_time == (5, 1)
    assert AckLog(tmp_path / "acks.jsonl").count_since(0) == {"postgres": 1, "mongodb": 1}
