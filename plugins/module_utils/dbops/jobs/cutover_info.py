"""The cutover_info module's engine: the blue-green cutovers recorded on the databases given, read only.

A cutover keeps its state on both sides, in the PostgreSQL table dbops.cutover_state and the MongoDB collection
dbops.cutover_state (cutover/state_store.py writes them, generation-ordered). Whichever side the caller names,
blue or green, holds a copy; the newest generation of each cutover name is what is reported. Nothing is created
when no cutover was ever recorded there: that reads as "none recorded".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import as_utc, to_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected as mongo_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect

# Where the cutover state lives (the layout of cutover/state_store.py, kept in step with it).
PG_TABLE_EXISTS = "SELECT to_regclass('dbops.cutover_state') IS NOT NULL"
PG_STATES = ("SELECT name, generation, active, phase, step, step_status, document, updated_at "
             "FROM dbops.cutover_state ORDER BY name")
MONGO_DATABASE = "dbops"
MONGO_COLLECTION = "cutover_state"
# What a status line shows of the full record; the rest (fences, timings) stays in the cutover's own report.
SHOWN = ("direction", "undone", "slow_step", "error", "recovered", "positions", "steps_done", "owner")


@dataclass(frozen=True)
class CutoverInfoRequest:
    databases: DatabaseConnections


@dataclass
class CutoverInfoResult(JobReport):
    cutovers: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # where a copy of the state was looked for


def _entry(source: str, name: str, generation: int, document: dict[str, Any] | None, **columns: Any) -> dict:
    document = document or {}
    entry = {"name": name, "generation": int(generation), "source": source,
             **{key: columns.get(key, document.get(key)) for key in ("active", "phase", "step", "step_status")},
             **{key: document.get(key) for key in SHOWN},
             "updated_at": columns.get("updated_at") or document.get("updated_at")}
    entry["in_progress"] = entry["step_status"] == "intent"
    return entry


def postgres_cutovers(conn: Any, queries: list[str]) -> list[dict[str, Any]]:
    queries.append(PG_TABLE_EXISTS)
    if not conn.execute(PG_TABLE_EXISTS).fetchone()[0]:
        return []
    queries.append(PG_STATES)
    return [_entry("postgres", name, generation, document, active=active, phase=phase, step=step,
                   step_status=step_status, updated_at=to_iso(as_utc(updated)) if updated else None)
            for name, generation, active, phase, step, step_status, document, updated in conn.execute(PG_STATES)]


def mongodb_cutovers(client: Any, queries: list[str]) -> list[dict[str, Any]]:
    queries.append(f"db.getSiblingDB('{MONGO_DATABASE}').{MONGO_COLLECTION}.find()")
    found = []
    for record in client[MONGO_DATABASE][MONGO_COLLECTION].find({}).sort("_id", 1):
        updated = record.get("updated_at")
        found.append(_entry("mongodb", str(record["_id"]), record.get("generation") or 0, record.get("document"),
                            active=record.get("active"), phase=record.get("phase"), step=record.get("step"),
                            step_status=record.get("step_status"),
                            updated_at=to_iso(as_utc(updated)) if hasattr(updated, "tzinfo") else updated))
    return found


def newest_per_name(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest generation of each cutover; the sources that hold it are listed together."""
    best: dict[str, dict[str, Any]] = {}
    for entry in entries:
        known = best.get(entry["name"])
        if known is None or entry["generation"] > known["generation"]:
            best[entry["name"]] = {**entry, "sources": [entry["source"]]}
        elif entry["generation"] == known["generation"]:
            known["sources"].append(entry["source"])
    for entry in best.values():
        entry.pop("source", None)
    return [best[name] for name in sorted(best)]


def read_cutovers(request: CutoverInfoRequest) -> CutoverInfoResult:
    result = CutoverInfoResult()
    entries: list[dict[str, Any]] = []
    databases = request.databases
    if databases.postgres_dsn:
        result.sources.append("postgres")
        with connect(databases.postgres_dsn, connect_timeout=10) as conn:
            entries += postgres_cutovers(conn, result.queries)
    if databases.mongodb_uri:
        result.sources.append("mongodb")
        with mongo_connected(databases.mongodb_uri, "reading the cutover state") as client:
            entries += mongodb_cutovers(client, result.queries)
    result.cutovers = newest_per_name(entries)
    return result
