"""The drill's record of every write the load generator sent and every commit the database acknowledged.

One JSON object per line, appended and flushed as soon as the database answers, so the file says exactly which
writes were committed when, even if the generator is killed. For each write it keeps what brackets the commit in
the database's own order, because wall clocks alone cannot say on which side of a recovery point a commit fell:
- PostgreSQL: the WAL insert position read inside the writing statement (the commit record comes after it) and
  the one read right after the commit returned (the commit record ends before it);
- MongoDB: the operation time the server returned for the insert (the oplog ts of the write itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

POSTGRES = "postgres"
MONGODB = "mongodb"


@dataclass(frozen=True)
class Ack:
    db: str
    seq: int
    sent_at: float
    acked_at: float
    # PostgreSQL: the commit record lies in (lsn_before, lsn_after].
    lsn_before: str | None = None
    lsn_after: str | None = None
    # MongoDB: the insert's oplog timestamp as [seconds, increment].
    op_time: tuple[int, int] | None = None


@dataclass(frozen=True)
class Failure:
    """A write that was sent and not acknowledged (it may or may not be committed: never counted as lost)."""

    db: str
    seq: int
    sent_at: float
    error: str


def lsn_to_int(lsn: str) -> int:
    """'16/B374D848' -> the 64-bit WAL position."""
    high, low = lsn.split("/", 1)
    return (int(high, 16) << 32) + int(low, 16)


class AckLog:
    """Appends acknowledgements to a JSON-lines file; reads them back, tolerating a torn last line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._handle: TextIO | None = None

    def open_for_append(self) -> AckLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open while the load runs
        return self

    def _write(self, record: dict) -> None:
        if self._handle is None:
            raise RuntimeError(f"acknowledgement log {self.path} is not open for writing")
        self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        # Flushed line by line: a kill of the generator loses no acknowledgement the database already gave.
        self._handle.flush()

    def record_ack(self, ack: Ack) -> None:
        self._write({"kind": "ack", **asdict(ack)})

    def record_failure(self, failure: Failure) -> None:
        self._write({"kind": "failure", **asdict(failure)})

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _records(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # torn last line of a killed writer: that write was never acknowledged to us
                yield json.loads(line)

    def acks(self) -> list[Ack]:
        found = []
        for record in self._records():
            if record.get("kind") != "ack":
                continue
            op_time = record.get("op_time")
            found.append(Ack(db=record["db"], seq=int(record["seq"]), sent_at=float(record["sent_at"]),
                             acked_at=float(record["acked_at"]), lsn_before=record.get("lsn_before"),
                             lsn_after=record.get("lsn_after"),
                             op_time=(int(op_time[0]), int(op_time[1])) if op_time else None))
        return found

    def failures(self) -> list[Failure]:
        return [Failure(db=r["db"], seq=int(r["seq"]), sent_at=float(r["sent_at"]), error=str(r["error"]))
                for r in self._records() if r.get("kind") == "failure"]

    def count_since(self, since: float = 0.0) -> dict[str, int]:
        """Acknowledged writes per database whose acknowledgement came at or after since (epoch seconds)."""
        counts = {POSTGRES: 0, MONGODB: 0}
        for ack in self.acks():
            if ack.acked_at >= since:
                counts[ack.db] = counts.get(ack.db, 0) + 1
        return counts
