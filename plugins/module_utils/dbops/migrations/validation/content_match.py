"""The `matches` rule: a PostgreSQL column and a MongoDB field hold the same values for the same keys.

Each side is read once in batches and folded into a count and 256 bucket sums of per-row hashes (bucket by the
key's hash): equal sums mean equal content, whatever order each database returns its rows in. Only when they
differ is a second pass made, keeping only the rows of the buckets that differ, to name a few keys that differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.canonical import (
    canonical,
    key_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.validation.rules import (
    MAX_EXAMPLES,
    Field,
)

BUCKETS = 256
MASK = (1 << 64) - 1
# The second pass keeps at most this many rows per side in memory (of the differing buckets only).
MAX_KEPT_ROWS = 200_000

Rows = Callable[[Field], Iterator[tuple[str, Any]]]


@dataclass
class SideDigest:
    count: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def content_hash(self) -> str:
        total = hashlib.sha256()
        for value in self.buckets:
            total.update(value.to_bytes(8, "big"))
        return total.hexdigest()[:16]


@dataclass
class MatchOutcome:
    left: SideDigest
    right: SideDigest
    differing: list[str]  # keys, up to MAX_EXAMPLES
    differing_count: int
    complete: bool  # False when the second pass hit MAX_KEPT_ROWS: differing_count is a lower bound

    @property
    def equal(self) -> bool:
        return self.left.count == self.right.count and self.left.buckets == self.right.buckets


def _row_hash(key: str, value: Any) -> tuple[int, int]:
    bucket = hashlib.sha256(key.encode()).digest()[0]
    digest = hashlib.sha256(f"{key}\x00{canonical(value)}".encode()).digest()
    return bucket, int.from_bytes(digest[:8], "big")


def _digest(rows: Iterator[tuple[str, Any]]) -> SideDigest:
    side = SideDigest()
    for key, value in rows:
        bucket, value_hash = _row_hash(key_text(key), value)
        side.count += 1
        side.buckets[bucket] = (side.buckets[bucket] + value_hash) & MASK
    return side


def _kept(rows: Iterator[tuple[str, Any]], buckets: set[int]) -> tuple[dict[str, int], bool]:
    kept: dict[str, int] = {}
    for key, value in rows:
        text = key_text(key)
        bucket, value_hash = _row_hash(text, value)
        if bucket in buckets:
            if len(kept) >= MAX_KEPT_ROWS:
                return kept, False
            kept[text] = value_hash
    return kept, True


def compare(left: Field, right: Field, rows: Rows) -> MatchOutcome:
    """rows(side) yields (key, value) of one side, batch by batch."""
    left_digest, right_digest = _digest(rows(left)), _digest(rows(right))
    outcome = MatchOutcome(left_digest, right_digest, [], 0, True)
    if outcome.equal:
        return outcome
    buckets = {i for i in range(BUCKETS) if left_digest.buckets[i] != right_digest.buckets[i]}
    left_rows, left_complete = _kept(rows(left), buckets)
    right_rows, right_complete = _kept(rows(right), buckets)
    differing = sorted(k for k in set(left_rows) | set(right_rows) if left_rows.get(k) != right_rows.get(k))
    outcome.differing = differing[:MAX_EXAMPLES]
    outcome.differing_count = len(differing)
    outcome.complete = left_complete and right_complete
    return outcome
