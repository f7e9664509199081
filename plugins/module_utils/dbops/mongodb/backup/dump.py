"""Logical dumps of one database in mongodump's layout, consistent as of a recorded cluster time.

How the dump is made consistent is decided per server, never assumed:
- "snapshot": every collection is read with readConcern {level: snapshot, atClusterTime: T}; used only when a probe
  showed the server really reads at a requested time (SecantusDB accepts the read concern but reads the latest data,
  so it is never used there). The dump is consistent at T by itself.
- "oplog": the newest oplog entry T0 is recorded before the first read, collections are read as they are ("fuzzy"),
  the newest entry T1 after the last read, and the oplog entries of the database in (T0, T1] are stored as the
  dump's oplog.bson. Replaying them over the documents (mongorestore --oplogReplay, or restore.py) gives the
  database exactly as of T1, the recorded cluster time. This is mongodump --oplog's method, per database.
- "change_stream": the same with a change stream instead of the oplog (mongos, or a user who may not read local).
- "none": a standalone server has no cluster time; only on explicit request, and such a dump cannot anchor PITR.

Every file goes to the repository under mongodb/dumps/<backup_id>/ (which is a mongodump directory), with its sha256;
the catalog entry (engine "mongodb", kind "dump") is written last, so a listed dump is always complete.
"""

from __future__ import annotations

import gzip
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import BackupError, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import dump_layout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    is_user_collection,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.topology import (
    detect_topology,
    probe_snapshot_reads,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    DOC_CODEC,
    RAW_CODEC,
    bson,
    pymongo_errors,
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    connect_tz_aware as connect,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.change_events import event_to_oplog
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.namespace import belongs_to_database
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    aware,
    iso,
    position,
    ts_text,
    ts_to_dict,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.update_diff import oplog_delta
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.topology import Topology, oplog_edge
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.document_progress import DocumentProgress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.rate import amount
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.throttle import ThrottledProgress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import (
    BackupRecord,
    Catalog,
    new_backup_id,
    record_from_dict,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository

DUMPS_PREFIX = "mongodb/dumps/"
CONSISTENCY_MODES = ("auto", "snapshot", "oplog", "change_stream", "none")
BATCH = 1000
TOOL_VERSION = "sevenp.dbops mongodb_backup 1"
SNAPSHOT_UNAVAILABLE_CODES = {239, 246, 26}  # SnapshotTooOld, SnapshotUnavailable, NamespaceNotFound


@dataclass
class DumpRecord:
    """What a dump is; also stored as the catalog entry's details (so restore finds everything it needs there)."""

    backup_id: str
    database: str
    consistency: str  # snapshot | oplog | change_stream | none
    cluster_time: dict[str, int] | None  # the dump is the database as of this cluster time {"t", "i"}
    cluster_wall: str | None  # the server's wall clock at cluster_time (ISO 8601)
    oplog_start: dict[str, int] | None  # the oplog window replayed over the documents: (start, end]
    oplog_end: dict[str, int] | None
    oplog_entries: int
    collections: list[str]
    views: list[str]
    counts: dict[str, int]  # documents written per collection (before the window is replayed)
    size_bytes: int
    duration_ms: int
    started_at: str
    finished_at: str
    key_prefix: str  # mongodb/dumps/<backup_id>/ : a mongodump directory (use mongorestore --gzip --oplogReplay)
    repository: str
    server_version: str | None = None
    topology: str | None = None
    warnings: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Window:
    """How the fuzzy read becomes consistent: oplog entries in (start, end], consistent at end."""

    start: Any = None
    end: Any = None
    end_wall: Any = None
    entries: list[dict[str, Any]] = field(default_factory=list)


class _SnapshotNotHonoured(Exception):
    pass


def resolve_repository(repository: Repository | str, **options: Any) -> Repository:
    return repository if isinstance(repository, Repository) else open_repository(repository, **options)


def choose_consistency(client, topo: Topology, database: str, requested: str,
                       collections: list[dict[str, Any]]) -> tuple[str, str]:
    """The consistency method for this server, and why."""
    if requested not in CONSISTENCY_MODES:
        raise BackupError(f"unknown consistency {requested!r}: use one of {', '.join(CONSISTENCY_MODES)}")
    if requested == "none":
        return "none", "requested: no consistency point (the dump cannot anchor point-in-time recovery)"
    if topo.kind == "standalone":
        raise BackupError(
            f"the MongoDB server is standalone (no replica set): a dump of {database} cannot be made consistent as "
            "of a cluster time and changes cannot be captured; run it as a (single-node) replica set, or ask for "
            "consistency 'none'"
        )
    if requested in ("snapshot", "auto"):
        probe_coll = next((c["name"] for c in collections if c.get("type", "collection") == "collection"),
                          "dbops_snapshot_probe")
        newest = topo.oplog_last or topo.cluster_time
        support = probe_snapshot_reads(client, database, probe_coll, newest)
        if support.supported:
            return "snapshot", support.reason
        if requested == "snapshot":
            raise BackupError(f"snapshot reads are not usable on this server: {support.reason}")
        fallback = "oplog" if topo.oplog_readable else "change_stream"
        return fallback, f"{support.reason}; using the {fallback} window instead"
    if requested == "oplog" and not topo.oplog_readable:
        raise BackupError("local.oplog.rs is not readable on this server; use consistency 'change_stream' or 'auto'")
    return requested, "requested"


def list_collection_infos(client, database: str) -> list[dict[str, Any]]:
    infos = [dict(info) for info in client[database].list_collections()]
    return sorted((i for i in infos if is_user_collection(i["name"]) and i.get("type") != "timeseries"),
                  key=lambda i: i["name"])


def plan_dump(uri: str, database: str, *, consistency: str = "auto", client=None) -> dict[str, Any]:
    """What take_dump would do (check mode): reads the server, writes nothing."""
    require_driver()
    require_database_name(database)
    own = client is None
    client = client or connect(uri)
    try:
        topo = detect_topology(client)
        infos = list_collection_infos(client, database)
        mode, reason = choose_consistency(client, topo, database, consistency, infos)
        return {
            "database": database, "consistency": mode, "reason": reason, "topology": topo.to_dict(),
            "collections": [i["name"] for i in infos if i.get("type", "collection") == "collection"],
            "views": [i["name"] for i in infos if i.get("type") == "view"],
        }
    finally:
        if own:
            client.close()


def take_dump(uri: str, repository: Repository | str, database: str, *, consistency: str = "auto",
              backup_id: str | None = None, work_dir: str | None = None, register: bool = True,
              client=None, progress_file: str | None = None) -> DumpRecord:
    """Dump database to the repository and return its record (also written to the catalog when register).

    uri: MongoDB connection string. repository: a Repository or a local path / s3:// URL (for S3 options open the
    repository yourself with repository.factory.open_repository). consistency: auto | snapshot | oplog |
    change_stream | none. work_dir: where files are staged before upload (default: the system temp dir).
    progress_file: where documents dumped of the estimated total are recorded (progress/progress_file.py).
    """
    require_driver()
    require_database_name(database)
    started_mono = time.monotonic()
    started_at = utc_now()
    repo = resolve_repository(repository)
    own = client is None
    client = client or connect(uri)
    backup_id = backup_id or new_backup_id("mongodb", "dump", started_at)
    warnings: list[str] = []
    try:
        topo = detect_topology(client)
        infos = list_collection_infos(client, database)
        mode, reason = choose_consistency(client, topo, database, consistency, infos)
        progress = _dump_progress(client, database, infos, progress_file)
        with tempfile.TemporaryDirectory(prefix="dbops-mongodump-", dir=work_dir) as tmp:
            root = Path(tmp)
            try:
                counts, window = _read_database(client, topo, database, infos, mode, root, progress)
            except _SnapshotNotHonoured as exc:
                if consistency != "auto":
                    raise BackupError(f"snapshot dump of {database} failed: {exc}") from exc
                warnings.append(f"snapshot read not honoured mid-dump ({exc}); dumped again with the oplog window")
                mode = "oplog" if topo.oplog_readable else "change_stream"
                for path in sorted(root.rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
                progress.restart(f"dumping again with the {mode} window")
                counts, window = _read_database(client, topo, database, infos, mode, root, progress)
            _write_metadata(client, database, infos, root)
            (root / dump_layout.PRELUDE_FILE).write_bytes(gzip.compress(
                dump_layout.prelude_json(topo.server_version, TOOL_VERSION), mtime=0))
            if mode in ("oplog", "change_stream"):
                _write_oplog_file(root / dump_layout.OPLOG_FILE, window.entries)
            prefix = f"{DUMPS_PREFIX}{backup_id}/"
            progress.phase(f"uploading {amount(_tree_size(root), 'bytes')} to the repository")
            objects = _upload(repo, root, prefix)
        finished_at = utc_now()
        record = DumpRecord(
            backup_id=backup_id, database=database, consistency=mode,
            cluster_time=ts_to_dict(window.end), cluster_wall=iso(window.end_wall),
            oplog_start=ts_to_dict(window.start), oplog_end=ts_to_dict(window.end),
            oplog_entries=len(window.entries),
            collections=[i["name"] for i in infos if i.get("type", "collection") == "collection"],
            views=[i["name"] for i in infos if i.get("type") == "view"],
            counts=counts, size_bytes=sum(o["size"] for o in objects),
            duration_ms=int((time.monotonic() - started_mono) * 1000),
            started_at=iso(started_at), finished_at=iso(finished_at), key_prefix=prefix,
            repository=repo.describe(), server_version=topo.server_version, topology=topo.kind,
            warnings=warnings + ([reason] if mode != "snapshot" else []), objects=objects,
        )
        if register:
            details = record.to_dict()
            details.pop("objects")
            details["source"] = {"uri": redact(uri), "host": socket.gethostname()}
            Catalog(repo).add_backup(BackupRecord(
                backup_id=backup_id, engine="mongodb", kind="dump", started_at=record.started_at,
                finished_at=record.finished_at, size_bytes=record.size_bytes, objects=objects,
                archive_start=position(window.start) if window.start is not None else None,
                archive_stop=position(window.end) if window.end is not None else None, details=details,
            ))
        progress.finish(f"{len(record.collections)} collections, {amount(record.size_bytes, 'bytes')} stored")
        return record
    except pymongo_errors.PyMongoError as exc:
        raise BackupError(f"dump of MongoDB database {database} failed: {exc}") from exc
    finally:
        if own:
            client.close()


# --------------------------------------------------------------------------------------------------- reading


def _dump_progress(client, database: str, infos: list[dict[str, Any]],
                   progress_file: str | None) -> DocumentProgress:
    """The dump's progress record; its total is the collections' estimatedDocumentCount (metadata, no scan),
    asked only when someone reads the progress."""
    collections = [i["name"] for i in infos if i.get("type", "collection") == "collection"]
    total = None
    if progress_file:
        total = sum(int(client[database][name].estimated_document_count()) for name in collections)
    return DocumentProgress(ThrottledProgress(progress_file), "dump", f"mongodb {database}",
                            total=total, collections=len(collections))


def _tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _dump_collection(path: Path, docs, progress: DocumentProgress | None, name: str) -> int:
    if progress is None or not progress.enabled:
        return _write_bson(path, docs)  # nobody reads the progress: no counting per document
    progress.start_collection(name)
    count = _write_bson(path, progress.counted(docs))
    progress.end_collection(path.stat().st_size)
    return count


def _read_database(client, topo: Topology, database: str, infos: list[dict[str, Any]], mode: str,
                   root: Path, progress: DocumentProgress | None = None) -> tuple[dict[str, int], _Window]:
    collections = [i["name"] for i in infos if i.get("type", "collection") == "collection"]
    (root / database).mkdir(parents=True, exist_ok=True)
    if mode == "snapshot":
        return _read_snapshot(client, database, collections, root, progress)
    window = _Window()
    stream = None
    if mode == "oplog":
        # The newest visible entry before the first read: every change the reads may miss comes after it.
        newest = oplog_edge(client, oldest=False)
        if newest is None:
            raise BackupError(f"local.oplog.rs is empty: cannot anchor the dump of {database}")
        window.start = newest["ts"]
    elif mode == "change_stream":
        hello = client.admin.command("hello")
        window.start = hello["$clusterTime"]["clusterTime"]
        stream = client[database].watch(start_at_operation_time=window.start, max_await_time_ms=200,
                                        show_expanded_events=True)
    counts = {}
    for name in collections:
        counts[name] = _dump_collection(root / dump_layout.bson_path(database, name),
                                        client[database].get_collection(name, codec_options=RAW_CODEC)
                                        .find({}, batch_size=BATCH), progress, name)
    if mode == "oplog":
        window.end, window.end_wall, window.entries = _oplog_window(client, database, window.start)
    elif mode == "change_stream":
        window.end, window.end_wall, window.entries = _change_stream_window(client, database, stream, window.start)
    # mode "none": no window, no cluster time
    return counts, window


def _read_snapshot(client, database: str, collections: list[str], root: Path,
                   progress: DocumentProgress | None = None) -> tuple[dict[str, int], _Window]:
    """All collections read at one cluster time T; T is the server's choice on the first read, then imposed."""
    window = _Window()
    counts: dict[str, int] = {}
    db = client[database]
    with client.start_session() as session:
        at = None
        for name in collections:
            concern: dict[str, Any] = {"level": "snapshot"}
            if at is not None:
                concern["atClusterTime"] = at
            try:
                reply = db.command({"find": name, "batchSize": BATCH, "readConcern": concern},
                                   codec_options=RAW_CODEC, session=session)
            except pymongo_errors.OperationFailure as exc:
                if exc.code in SNAPSHOT_UNAVAILABLE_CODES and at is not None:
                    counts[name] = _write_bson(root / dump_layout.bson_path(database, name), iter(()))
                    continue  # created after T: it did not exist at the dump's time
                raise _SnapshotNotHonoured(str(exc)) from exc
            cursor = reply["cursor"]
            served = cursor.get("atClusterTime")
            if served is None or (at is not None and served != at):
                raise _SnapshotNotHonoured(f"read of {name} served at {served}, expected {at}")
            at = served
            counts[name] = _dump_collection(root / dump_layout.bson_path(database, name),
                                            _drain(db, name, cursor, session), progress, name)
        if at is None:  # no collections: the database as of now
            at = client.admin.command("hello", session=session)["$clusterTime"]["clusterTime"]
    window.start = window.end = at
    window.end_wall = _wall_at(client, at)
    return counts, window


def _drain(db, name: str, cursor, session):
    yield from cursor["firstBatch"]
    cursor_id = cursor["id"]
    while cursor_id:
        reply = db.command({"getMore": cursor_id, "collection": name, "batchSize": BATCH},
                           codec_options=RAW_CODEC, session=session)
        yield from reply["cursor"]["nextBatch"]
        cursor_id = reply["cursor"]["id"]


def _wall_at(client, at) -> datetime | None:
    """Wall clock of the newest oplog entry at or before at (or the server's clock)."""
    try:
        entry = client.local["oplog.rs"].find_one({"ts": {"$lte": at}}, {"wall": 1}, sort=[("$natural", -1)])
        if entry and entry.get("wall"):
            return aware(entry["wall"])
    except pymongo_errors.PyMongoError:
        pass
    return aware(client.admin.command("hello")["localTime"])


def _write_bson(path: Path, docs) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(path, "wb", compresslevel=6) as handle:
        for doc in docs:
            handle.write(doc.raw)
            count += 1
    return count


def _oplog_window(client, database: str, start) -> tuple[Any, Any, list[dict[str, Any]]]:
    """The database's entries after start, up to the newest entry now (the consistency point); one oplog read.

    start is an entry that existed when the dump began. It must still be there: the oplog is pruned oldest first,
    so while start is present no entry after it has gone; if it is gone, changes in the window may be lost.
    """
    oplog = client.local.get_collection("oplog.rs", codec_options=RAW_CODEC)
    entries: list[dict[str, Any]] = []
    start_present, end, end_wall = False, start, None
    for raw in oplog.find({"ts": {"$gte": start}}, batch_size=5000):
        ts = raw["ts"]
        if ts == start:
            start_present, end_wall = True, raw.get("wall")
            continue
        end, end_wall = ts, raw.get("wall")
        if belongs_to_database(raw, database):
            entries.append(bson.decode(raw.raw, codec_options=DOC_CODEC))
    if not start_present:
        raise BackupError(
            f"the oplog rolled over during the dump of {database}: its entry at the dump's start {ts_text(start)} is "
            "gone, so changes made while the collections were read may be lost; enlarge the oplog or dump when "
            "there is less write traffic"
        )
    return end, aware(end_wall) if end_wall else None, entries


def _change_stream_window(client, database: str, stream, start) -> tuple[Any, Any, list[dict[str, Any]]]:
    hello = client.admin.command("hello")
    end, end_wall = hello["$clusterTime"]["clusterTime"], aware(hello["localTime"])
    entries: list[dict[str, Any]] = []
    try:
        while True:
            event = stream.try_next()
            if event is None:
                break  # an empty getMore after end was taken: every change up to end was delivered
            if event["clusterTime"] <= start:
                continue
            if event["clusterTime"] > end:
                break
            entry = event_to_oplog(event)
            if entry is not None and belongs_to_database(entry, database):
                entries.append(entry)
    finally:
        stream.close()
    return end, end_wall, entries


def _for_mongorestore(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries as mongod writes them, for mongorestore --oplogReplay.

    SecantusDB logs createIndexes with an "indexes" list (mongod: one index per entry), a view's pipeline as
    "viewPipeline", and update deltas in the change-stream shape (mongod: d/u/i/s<field>).
    """
    command = entry.get("o", {})
    if entry.get("op") == "c" and "createIndexes" in command and "indexes" in command:
        out = []
        for spec in command["indexes"]:
            clean = {key: value for key, value in spec.items() if key != "entryFormat"}
            out.append({**entry, "o": {"createIndexes": command["createIndexes"], **clean}})
        return out
    if entry.get("op") == "u" and command.get("$v") == 2 and isinstance(command.get("diff"), dict):
        return [{**entry, "o": {"$v": 2, "diff": oplog_delta(command["diff"])}}]
    if entry.get("op") == "c" and "applyOps" in command:
        inner = [out for op in command["applyOps"] for out in _for_mongorestore(op)]
        return [{**entry, "o": {**command, "applyOps": inner}}]
    if entry.get("op") == "c" and "create" in command and "viewPipeline" in command:
        fixed = {("pipeline" if key == "viewPipeline" else key): value for key, value in command.items()}
        return [{**entry, "o": fixed}]
    return [entry]


def _write_oplog_file(path: Path, entries: list[dict[str, Any]]) -> None:
    with gzip.open(path, "wb", compresslevel=6) as handle:
        for entry in entries:
            for out in _for_mongorestore(entry):
                handle.write(bson.encode(out, codec_options=DOC_CODEC))


# -------------------------------------------------------------------------------------------------- metadata


def _write_metadata(client, database: str, infos: list[dict[str, Any]], root: Path) -> None:
    db = client[database]
    for info in infos:
        indexes: list[dict[str, Any]] = []
        if info.get("type", "collection") == "collection":
            try:
                indexes = [dict(spec) for spec in db[info["name"]].list_indexes()]
            except pymongo_errors.OperationFailure as exc:
                if exc.code != 26:  # dropped while dumping: its drop is in the oplog window
                    raise
        doc = dump_layout.metadata_document(info, indexes)
        path = root / dump_layout.metadata_path(database, info["name"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(dump_layout.metadata_json(doc), mtime=0))


# ---------------------------------------------------------------------------------------------------- upload


def _upload(repo: Repository, root: Path, prefix: str) -> list[dict[str, Any]]:
    objects = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(root).as_posix()
        info = repo.put_file(key, path)
        stored = repo.head(key)
        if stored is None or stored.sha256 != info.sha256 or stored.size != info.size:
            raise BackupError(f"{key} was not stored intact in {repo.describe()}")
        objects.append({"key": key, "size": info.size, "sha256": info.sha256})
    return objects


def dump_records(repo: Repository, database: str | None = None) -> list[DumpRecord]:
    """The catalog's MongoDB dumps (of database), oldest consistency point first."""
    records = []
    for backup in Catalog(repo).backups(engine="mongodb", kind="dump"):
        details = dict(backup.details)
        details["objects"] = backup.objects
        record = record_from_dict(DumpRecord, details)
        if database is None or record.database == database:
            records.append(record)

    def order(record: DumpRecord):
        ct = record.cluster_time or {"t": 0, "i": 0}
        return (ct["t"], ct["i"], record.finished_at)

    return sorted(records, key=order)


def require_database_name(database: str) -> str:
    if not database or any(ch in database for ch in '/\\. "$') or len(database.encode()) > 63:
        raise DbopsError(f"invalid MongoDB database name {database!r}")
    return database
