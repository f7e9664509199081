"""Where the cutover state lives: the PostgreSQL table ``dbops.cutover_state`` and the MongoDB collection
``dbops.cutover_state``, on blue and on green; every write goes to each copy it can reach.

A write is one statement per copy: an upsert that only replaces an older generation, so a late write from a
process that lost the race never overwrites a newer record. A copy that cannot be written is reported (``missed``),
not fatal, as long as one copy took the write: the newest generation wins when the copies are read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.names import SIDES
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.sides import OpenSides
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.cutover.state import (
    CutoverState,
    CutoverStateError,
    newest,
)

STATE_SCHEMA = "dbops"
STATE_TABLE = "cutover_state"
STATE_DATABASE = "dbops"
STATE_COLLECTION = "cutover_state"

CREATE_TABLE = f"""CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.{STATE_TABLE} (
    name text PRIMARY KEY,
    generation bigint NOT NULL,
    active text NOT NULL,
    phase text NOT NULL,
    step text,
    step_status text,
    document jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now())"""
# Constant names, values as parameters.
UPSERT = (f"INSERT INTO {STATE_SCHEMA}.{STATE_TABLE} AS s (name, generation, active, phase, step, step_status, "  # noqa: S608
          "document, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, now()) ON CONFLICT (name) DO UPDATE SET "
          "generation = EXCLUDED.generation, active = EXCLUDED.active, phase = EXCLUDED.phase, step = EXCLUDED.step, "
          "step_status = EXCLUDED.step_status, document = EXCLUDED.document, updated_at = now() "
          "WHERE s.generation < EXCLUDED.generation")
SELECT = f"SELECT document FROM {STATE_SCHEMA}.{STATE_TABLE} WHERE name = %s"  # noqa: S608
TABLE_EXISTS = f"SELECT to_regclass('{STATE_SCHEMA}.{STATE_TABLE}') IS NOT NULL"


@dataclass
class StateCopy:
    """One place a copy of the state is kept: a reader and a writer bound to one connection."""

    label: str  # "postgres:blue", "mongodb:green", ...
    read: Callable[[str], dict[str, Any] | None]
    write: Callable[[CutoverState], None]


def postgres_copy(side: str, conn: Any) -> StateCopy:
    def read(name: str) -> dict[str, Any] | None:
        if not conn.execute(TABLE_EXISTS).fetchone()[0]:
            return None
        row = conn.execute(SELECT, (name,)).fetchone()
        return row[0] if row else None

    def write(state: CutoverState) -> None:
        conn.execute(UPSERT, (state.name, state.generation, state.active, state.phase, state.step,
                              state.step_status, json.dumps(state.to_dict(), default=str)))

    return StateCopy(f"postgres:{side}", read, write)


def ensure_postgres_table(conn: Any, queries: list[str]) -> None:
    if not conn.execute(TABLE_EXISTS).fetchone()[0]:
        queries.append(CREATE_TABLE)
        conn.execute(CREATE_TABLE)


def mongodb_copy(side: str, client: Any) -> StateCopy:
    collection = client[STATE_DATABASE][STATE_COLLECTION]

    def read(name: str) -> dict[str, Any] | None:
        document = collection.find_one({"_id": name})
        return document.get("document") if document else None

    def write(state: CutoverState) -> None:
        document = {"generation": state.generation, "active": state.active, "phase": state.phase,
                    "step": state.step, "step_status": state.step_status, "document": state.to_dict(),
                    "updated_at": utc_now()}
        # Only an older generation is replaced: the filter misses a newer one, and the upsert's insert then hits
        # the existing _id (duplicate key), which means "a newer copy is there already".
        try:
            collection.replace_one({"_id": state.name, "generation": {"$lt": state.generation}}, document,
                                   upsert=True)
        except Exception as exc:  # noqa: BLE001 - only a duplicate key is expected; anything else is re-raised
            if getattr(exc, "code", None) != 11000:
                raise

    return StateCopy(f"mongodb:{side}", read, write)


@dataclass
class StateReading:
    state: CutoverState | None
    generations: dict[str, int | None] = field(default_factory=dict)  # label -> generation (None: no record)
    unreachable: dict[str, str] = field(default_factory=dict)  # label -> why


class StateStore:
    """Reads and writes every copy; holds the newest state of this run."""

    def __init__(self, name: str, copies: list[StateCopy], unreachable: dict[str, str] | None = None) -> None:
        self.name = name
        self.copies = copies
        self.unreachable = dict(unreachable or {})
        self.missed: dict[str, str] = {}  # label -> the last write error
        self.writes = 0

    def read(self) -> StateReading:
        reading = StateReading(state=None, unreachable=dict(self.unreachable))
        found: list[CutoverState] = []
        for copy in self.copies:
            try:
                data = copy.read(self.name)
            except Exception as exc:  # noqa: BLE001 - one unreadable copy must not hide the others
                reading.unreachable[copy.label] = _reason(exc)
                continue
            if data is None:
                reading.generations[copy.label] = None
                continue
            state = CutoverState.from_dict(data)
            reading.generations[copy.label] = state.generation
            found.append(state)
        reading.state = newest(found)
        return reading

    def write(self, state: CutoverState, *, postgres_only: bool = False) -> None:
        """Raise the generation and write every copy (postgres_only: the PostgreSQL copies, when there are any);
        CutoverStateError when none took it."""
        state.generation += 1
        state.updated_at = to_iso(utc_now())
        written = 0
        copies = self.copies
        if postgres_only:
            copies = [copy for copy in self.copies if copy.label.startswith("postgres:")] or self.copies
        # The copies are written at the same time (each on its own connection): a switch writes the state at every
        # step inside the pause, so the pause pays for the slowest copy, not for the sum.
        with ThreadPoolExecutor(max_workers=max(1, len(copies))) as pool:
            outcomes = list(zip(copies, pool.map(lambda copy: _attempt(copy, state), copies), strict=True))
        for copy, error in outcomes:
            if error is None:
                written += 1
                self.missed.pop(copy.label, None)
            else:
                self.missed[copy.label] = error
        self.writes += 1
        if not written:
            raise CutoverStateError(f"the state of cutover {self.name!r} could not be written anywhere: "
                                    + "; ".join(f"{label}: {why}" for label, why in self.missed.items()))


def _attempt(copy: StateCopy, state: CutoverState) -> str | None:
    """None when the copy took the write, else why not (reported; one copy is enough to go on)."""
    try:
        copy.write(state)
    except Exception as exc:  # noqa: BLE001 - any failure of one copy is reported, not raised
        return _reason(exc)
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DbopsError):
        return str(exc)
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def store_for(sides: OpenSides, name: str, queries: list[str], *, create: bool) -> StateStore:
    """A store over every copy the open sides can hold: the PostgreSQL table is created on each reachable side
    when create (not in check mode, not for a status read)."""
    copies: list[StateCopy] = []
    unreachable = dict(sides.unreachable)
    for side in SIDES:
        if side in sides.pg:
            conn = sides.pg[side]
            if create:
                ensure_postgres_table(conn, queries)
            copies.append(postgres_copy(side, conn))
        if side in sides.mongo:
            copies.append(mongodb_copy(side, sides.mongo[side]))
    return StateStore(name, copies, unreachable)
