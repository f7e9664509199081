"""Records of migration.yml's `validate:` rules, as parsed (see rule_parser.py) and before anything is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRE = "pre"
POST = "post"
PHASES = (PRE, POST)

KINDS = ("row_count", "no_orphans", "unique", "not_null", "json_schema", "matches", "sql", "mongodb")

POSTGRES = "postgres"
MONGODB = "mongodb"

# Rows (documents) per batch, and each batch's own limits: short statements, never one long transaction.
DEFAULT_BATCH_SIZE = 1000
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
DEFAULT_LOCK_TIMEOUT_MS = 2_000
# How many offending keys a result shows.
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Target:
    """A table (PostgreSQL) or a collection (MongoDB) a rule reads."""

    database: str  # postgres | mongodb
    name: str  # "schema.table" / "table", or the collection's name
    # Columns of a unique, not-null key to page by; () = the table's primary key (always _id for a collection).
    key: tuple[str, ...] = ()

    def describe(self) -> str:
        kind = "table" if self.database == POSTGRES else "collection"
        return f"{self.database} {kind} {self.name}"


@dataclass(frozen=True)
class Field:
    """One column of a table or field of a collection (dotted paths allowed in MongoDB)."""

    target: Target
    name: str

    def describe(self) -> str:
        return f"{self.target.describe()}.{self.name}"


@dataclass(frozen=True)
class Paging:
    """How a rule reads: batches of batch_size, each its own short statement under these limits."""

    batch_size: int = DEFAULT_BATCH_SIZE
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS


@dataclass(frozen=True)
class ValidationRule:
    """One rule. Which fields matter depends on kind (see rule_parser.py, which fills them)."""

    index: int  # position in the validate: list, for messages
    kind: str
    phase: str
    paging: Paging
    target: Target | None = None  # what is paged through; None for matches (it reads source and reference)
    fields: tuple[str, ...] = ()  # unique, not_null
    # row_count: after - before must lie within expected_change +/- tolerance (tolerance_pct: a share of before).
    expected_change: int = 0
    tolerance: int = 0
    tolerance_pct: float | None = None
    minimum: int | None = None
    maximum: int | None = None
    # no_orphans: source field -> referenced field; matches: left (postgres) and right (mongodb) fields.
    source: Field | None = None
    reference: Field | None = None
    schema: dict[str, Any] = field(default_factory=dict)  # json_schema
    sample: int | None = None  # json_schema: check N random documents instead of all
    query: str = ""  # sql
    filter: dict[str, Any] = field(default_factory=dict)  # mongodb
    name: str = ""

    def databases(self) -> list[str]:
        """The databases this rule reads, in a stable order."""
        found = {f.target.database for f in (self.source, self.reference) if f is not None}
        if self.target is not None:
            found.add(self.target.database)
        return [d for d in (POSTGRES, MONGODB) if d in found]

    def describe(self) -> str:
        """What the rule looks at, as a result names it."""
        if self.kind == "matches" and self.source and self.reference:
            return f"{self.source.describe()} = {self.reference.describe()}"
        if self.kind == "no_orphans" and self.source and self.reference:
            return f"{self.source.describe()} -> {self.reference.describe()}"
        base = self.target.describe() if self.target else ""
        return f"{base} ({', '.join(self.fields)})" if self.fields else base
