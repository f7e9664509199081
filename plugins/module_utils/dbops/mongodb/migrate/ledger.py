"""The MongoDB ledger: collection dbops_migrations, one document per version.

Besides version, checksum, status, timings, who/where and the last error, a declarative part's document holds
its operations with the inverse each one computed at apply time (written BEFORE the change is made), so a
rollback restores what was there even if the files changed since. Reading never creates the collection
(check mode creates nothing).

Every write goes through write_entry(): it masks the secrets that user input may carry into the texts (errors,
operation summaries, notes) with core/secrets.redact and stamps the layout (layout_version.py). The recorded
arguments and inverses (Extended JSON) are kept verbatim: the rollback replays them, and masking a value there
would make it restore something else.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import LedgerEntry
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.layout_version import (
    LAYOUT,
    LAYOUT_FIELD,
)

COLLECTION = "dbops_migrations"
HISTORY_KEEP = 20

# Operation states inside a ledger document.
OP_PENDING = "pending"
OP_PREPARED = "prepared"  # inverse recorded, the change may have started
OP_DONE = "done"
OP_UNDONE = "undone"


# Fields replayed by the rollback: stored exactly as given (see the module docstring).
VERBATIM = frozenset({"args", "inverse", "checksum"})
# Top-level fields whose texts may carry user input (the layout upgrade masks them in older entries).
TEXT_FIELDS = ("error", "history", "ops", "name")


def redacted(value: Any, key: str = "") -> Any:
    """value with every string masked by core/secrets.redact, except under the VERBATIM keys."""
    if key.rsplit(".", 1)[-1] in VERBATIM:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def write_entry(db: Any, selector: str | dict[str, Any], update: dict[str, Any], *, upsert: bool = False,
                session: Any = None) -> int:
    """The one write to dbops_migrations: texts masked, layout stamped. Returns how many entries matched."""
    clean = {operator: redacted(fields) for operator, fields in update.items()}
    clean["$set"] = {**clean.get("$set", {}), LAYOUT_FIELD: LAYOUT}
    match = {"_id": selector} if isinstance(selector, str) else selector
    return db[COLLECTION].update_one(match, clean, upsert=upsert, session=session).matched_count


now = utc_now


def _iso(value: Any) -> str | None:
    return to_iso(value) if value is None or isinstance(value, datetime) else str(value)


def who() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid())
    return {"applied_by": user, "applied_from": socket.gethostname(), "pid": os.getpid()}


def _entry(doc: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(version=doc.get("version", doc["_id"]), status=doc.get("status", ""),
                       checksum=doc.get("checksum"), name=doc.get("name"), started_at=_iso(doc.get("started_at")),
                       finished_at=_iso(doc.get("finished_at")), duration_ms=doc.get("duration_ms"),
                       error=doc.get("error"))


def read_all(db: Any) -> dict[str, LedgerEntry]:
    """version -> LedgerEntry; {} when the collection does not exist (a find never creates it)."""
    entries = (_entry(doc) for doc in db[COLLECTION].find({}, {"ops": 0, "history": 0}))
    return {entry.version: entry for entry in entries}


def read(db: Any, version: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"_id": version})


def start(db: Any, *, version: str, name: str, checksum: str, kind: str, run_id: str, status: str,
          ops: list[dict[str, Any]] | None, resume: bool, extra: dict[str, Any] | None = None,
          session: Any = None) -> dict[str, Any]:
    """Mark a part as running. resume keeps the recorded operations (and their inverses) of an earlier attempt."""
    fields: dict[str, Any] = {"version": version, "name": name, "checksum": checksum, "kind": kind,
                              "status": status, "run_id": run_id, "error": None, "finished_at": None,
                              "duration_ms": None, **who(), **(extra or {})}
    if not resume:
        fields["started_at"] = now()
        fields["ops"] = ops or []
    update = {"$set": fields, "$push": {"history": {"$each": [{"at": now(), "status": status, "run_id": run_id}],
                                                    "$slice": -HISTORY_KEEP}}}
    write_entry(db, version, update, upsert=True, session=session)
    entry = read(db, version)
    if entry is None:  # upserted just above: only another client deleting it in between gets here
        raise MigrationFailed(f"the ledger entry of {version} vanished right after it was written", version=version)
    return entry


def set_op(db: Any, version: str, index: int, session: Any = None, **fields: Any) -> None:
    write_entry(db, version, {"$set": {f"ops.{index}.{k}": v for k, v in fields.items()}}, session=session)


def finish(db: Any, version: str, status: str, *, run_id: str, error: str | None = None,
           duration_ms: int | None = None, session: Any = None) -> None:
    fields: dict[str, Any] = {"status": status, "error": error, "finished_at": now(), "run_id": run_id}
    if duration_ms is not None:
        fields["duration_ms"] = duration_ms
    history = {"at": now(), "status": status, "run_id": run_id}
    if error:
        history["error"] = error
    write_entry(db, version, {"$set": fields, "$push": {"history": {"$each": [history], "$slice": -HISTORY_KEEP}}},
                upsert=True, session=session)


def set_status(db: Any, version: str, status: str, *, run_id: str, note: str) -> None:
    """A status change in the middle of work (e.g. a rollback starting), with a note in the history."""
    write_entry(
        db, version,
        {"$set": {"status": status, "run_id": run_id},
         "$push": {"history": {"$each": [{"at": now(), "status": status, "run_id": run_id, "note": note}],
                               "$slice": -HISTORY_KEEP}}})


def record_status(db: Any, *, version: str, name: str, checksum: str, kind: str, status: str,
                  error: str | None) -> None:
    """A status written from outside an apply/rollback (e.g. after a failed compensation)."""
    write_entry(
        db, version,
        {"$set": {"version": version, "name": name, "kind": kind, "status": status, "error": error},
         "$setOnInsert": {"checksum": checksum, "started_at": now()},
         "$push": {"history": {"$each": [{"at": now(), "status": status, "run_id": "-", "error": error}],
                               "$slice": -HISTORY_KEEP}}},
        upsert=True)
