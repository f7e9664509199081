"""One reading of how far a piece of long work has got, as the engine (or the server) records it.

Work that moves towards a total (a backfill's rows, a base backup's bytes) has `done` and, when known, `total`;
work that catches up (a replica behind its source) has `remaining`, which shrinks. A reader turns the engine's
own records into these; progress/rate.py turns two readings of the same work into a rate and an ETA.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ProgressRecord:
    kind: str  # backfill | base_backup | copy | replication; from a progress file: restore | fetch | dump
    name: str  # what the work is, unique among the records of one reading ("2024.011 fill_minutes", a slot name)
    unit: str  # rows | documents | bytes
    done: int | None = None
    total: int | None = None  # an estimate where the server only estimates (a table's reltuples)
    remaining: int | None = None  # work that catches up: what is left (lag bytes)
    status: str = "running"  # running | done
    detail: str = ""  # where: the table, the collection, the backup phase
    started_at: str | None = None  # ISO 8601, when the engine recorded the start
    updated_at: str | None = None  # ISO 8601, when the engine last recorded progress

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressRecord:
        known: dict[str, Any] = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)
