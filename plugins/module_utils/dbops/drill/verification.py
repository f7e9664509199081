"""After the restore: is every write acknowledged before the recovery point there, and none written after it?

Each acknowledged write is placed against the point in the database's own order (acknowledgements.py):
- PostgreSQL: the commit record lies in (lsn_before, lsn_after]; the point is the LSN pg_create_restore_point
  returned, which is the end of the restore-point record. lsn_after < point means the commit is before the point;
  lsn_before >= point means after it; anything else was in flight while the point was taken.
- MongoDB: the insert's oplog timestamp against the point's cluster time (at or before: before the point).
A write in flight may be either restored or not; a write before the point that is missing is a committed write
lost (it counts in the RPO); a write after the point that is present means the restore overshot. Writes of one
writer are sequential, so the restored ones must also form a prefix of the sequence.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.acknowledgements import (
    MONGODB,
    POSTGRES,
    Ack,
    lsn_to_int,
)

BEFORE = "before"
AFTER = "after"
IN_FLIGHT = "in_flight"
# How many sequence numbers of each problem the result lists (the counts are always complete).
EXAMPLES = 20


@dataclass(frozen=True)
class RecoveryPointMark:
    """Where the recovery point is, in each database's order, plus the wall-clock interval it was taken in."""

    started_at: float
    finished_at: float
    postgres_lsn: str | None = None
    mongodb_op_time: tuple[int, int] | None = None


@dataclass
class DatabaseVerdict:
    db: str
    acknowledged: int = 0
    before_point: int = 0
    after_point: int = 0
    in_flight: int = 0
    restored: int = 0
    in_flight_restored: int = 0
    lost: int = 0
    overshoot: int = 0
    out_of_order: int = 0
    unacknowledged_restored: int = 0
    lost_examples: list[int] = field(default_factory=list)
    overshoot_examples: list[int] = field(default_factory=list)
    last_before_point: int | None = None
    first_after_point: int | None = None
    classified_by: str = ""
    ok: bool = False


@dataclass
class Verification:
    verified: bool
    rpo_writes_lost: int
    rpo_seconds: float
    databases: dict[str, DatabaseVerdict]
    at: float

    def as_dict(self) -> dict:
        return asdict(self)


def place(ack: Ack, mark: RecoveryPointMark) -> tuple[str, str]:
    """(before|after|in_flight, how it was decided) for one acknowledged write."""
    if ack.db == POSTGRES and mark.postgres_lsn and ack.lsn_before and ack.lsn_after:
        point = lsn_to_int(mark.postgres_lsn)
        if lsn_to_int(ack.lsn_after) < point:
            return BEFORE, "wal position"
        if lsn_to_int(ack.lsn_before) >= point:
            return AFTER, "wal position"
        return IN_FLIGHT, "wal position"
    if ack.db == MONGODB and mark.mongodb_op_time and ack.op_time:
        return (BEFORE if tuple(ack.op_time) <= tuple(mark.mongodb_op_time) else AFTER), "oplog timestamp"
    # No database position on one side: fall back to the wall clock, with the point's whole interval in flight.
    if ack.acked_at < mark.started_at:
        return BEFORE, "wall clock"
    if ack.sent_at > mark.finished_at:
        return AFTER, "wall clock"
    return IN_FLIGHT, "wall clock"


def verify_database(db: str, acks: list[Ack], restored: set[int], unacknowledged: set[int],
                    mark: RecoveryPointMark) -> tuple[DatabaseVerdict, dict[int, str]]:
    """The verdict for one database and each acknowledged seq's fate (kept, discarded, lost, ...)."""
    verdict = DatabaseVerdict(db=db)
    fates: dict[int, str] = {}
    methods: set[str] = set()
    mine = sorted((ack for ack in acks if ack.db == db), key=lambda ack: ack.seq)
    acked_seqs = {ack.seq for ack in mine}
    verdict.acknowledged = len(mine)
    verdict.restored = len(restored & acked_seqs)
    verdict.unacknowledged_restored = len(restored & (unacknowledged - acked_seqs))
    missing_seen = False
    for ack in mine:
        side, method = place(ack, mark)
        methods.add(method)
        present = ack.seq in restored
        if present and missing_seen:
            verdict.out_of_order += 1
        if not present:
            missing_seen = True
        if side == BEFORE:
            verdict.before_point += 1
            verdict.last_before_point = ack.seq
            if present:
                fates[ack.seq] = "kept"
            else:
                verdict.lost += 1
                fates[ack.seq] = "lost"
                if len(verdict.lost_examples) < EXAMPLES:
                    verdict.lost_examples.append(ack.seq)
        elif side == AFTER:
            verdict.after_point += 1
            if verdict.first_after_point is None:
                verdict.first_after_point = ack.seq
            if present:
                verdict.overshoot += 1
                fates[ack.seq] = "overshoot"
                if len(verdict.overshoot_examples) < EXAMPLES:
                    verdict.overshoot_examples.append(ack.seq)
            else:
                fates[ack.seq] = "discarded"
        else:
            verdict.in_flight += 1
            if present:
                verdict.in_flight_restored += 1
            fates[ack.seq] = "in_flight_kept" if present else "in_flight_discarded"
    verdict.classified_by = ", ".join(sorted(methods))
    verdict.ok = verdict.lost == 0 and verdict.overshoot == 0 and verdict.out_of_order == 0
    return verdict, fates


def verify(acks: list[Ack], unacknowledged: dict[str, set[int]], restored: dict[str, set[int]],
           mark: RecoveryPointMark) -> tuple[Verification, dict[str, dict[int, str]]]:
    """Verdicts for every database in restored; RPO = acknowledged writes before the point that are missing."""
    verdicts: dict[str, DatabaseVerdict] = {}
    fates: dict[str, dict[int, str]] = {}
    for db, seqs in restored.items():
        verdicts[db], fates[db] = verify_database(db, acks, seqs, unacknowledged.get(db, set()), mark)
    lost = sum(v.lost for v in verdicts.values())
    lost_times = [ack.acked_at for ack in acks if fates.get(ack.db, {}).get(ack.seq) == "lost"]
    # The window of committed work lost, measured back from the point: 0 when nothing was lost.
    rpo_seconds = max(0.0, mark.started_at - min(lost_times)) if lost_times else 0.0
    verified = bool(verdicts) and all(v.ok and v.before_point > 0 for v in verdicts.values())
    return Verification(verified=verified, rpo_writes_lost=lost, rpo_seconds=round(rpo_seconds, 3),
                        databases=verdicts, at=time.time()), fates


def timeline(acks: list[Ack], fates: dict[str, dict[int, str]], max_buckets: int = 120,
             origin: float | None = None, until: float | None = None) -> dict:
    """Per-database counts of acknowledged writes per time bucket, by fate: what the report's picture draws."""
    if not acks:
        return {"origin": origin or 0.0, "bucket_s": 1.0, "series": {}}
    start = origin if origin is not None else min(ack.acked_at for ack in acks)
    end = max(until or 0.0, max(ack.acked_at for ack in acks))
    span = max(end - start, 0.001)
    bucket = max(span / max_buckets, 0.05)
    count = int(span / bucket) + 1
    series: dict[str, dict[str, list[int]]] = {}
    for ack in acks:
        fate = fates.get(ack.db, {}).get(ack.seq)
        if fate is None:
            continue
        lanes = series.setdefault(ack.db, {})
        row = lanes.setdefault(fate, [0] * count)
        index = min(max(int((ack.acked_at - start) / bucket), 0), count - 1)
        row[index] += 1
    return {"origin": start, "bucket_s": bucket, "buckets": count, "series": series}
