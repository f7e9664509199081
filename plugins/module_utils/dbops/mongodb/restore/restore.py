"""Restore a MongoDB database to a point: a dump, its oplog window, then the change archive up to the target.

Order of work, so that a bad target or a damaged backup never touches the target server:
1. plan (repository only): pick the newest dump consistent at or before the target whose change archive reaches the
   target without a gap; a target before the oldest dump or after the archive's reach is a RestoreError;
2. fetch every object needed (dump files, archive chunks) with its sha256 checked, and decode all of it;
3. build the database in a staging database on the target server: collections with their options, documents,
   the dump's oplog window (fuzzy replay), indexes, then the archived changes after the consistency point up to the
   target (strict replay: every insert/update/delete must find the state the source had);
4. verify the staging database: no replay anomaly, document counts as the replay predicts, index specs as dumped,
   and a content digest per collection (sha256 of canonical BSON in _id order; SecantusDB has no dbHash);
5. swap: the target database's collections are moved aside to "<db>__dbops_pre_<id>" (existing="move_aside", the
   default: kept, never deleted here) or dropped (existing="drop"), then the staging collections are renamed in.

A journal document (database "dbops_restore", collection "journal", _id = target database) records the phase, so a
run killed at any point is completed by running it again: the build is redone from scratch, a swap in progress is
continued, and a completed restore whose content digests still match is reported as unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError, RestoreError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import change_archive as archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup import dump_layout
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.content_hash import (
    database_digests,
    index_specs,
    normalize_index_spec,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.dump import (
    DumpRecord,
    dump_records,
    require_database_name,
    resolve_repository,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.gzip_bson import gzip_documents
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.apply import OplogApplier
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    RestoreTarget,
    aware,
    iso,
    parse_iso,
    parse_target,
    ts_from_dict,
    ts_text,
    ts_to_dict,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.document_progress import DocumentProgress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.throttle import ThrottledProgress
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import Catalog

JOURNAL_DB = "dbops_restore"
JOURNAL_COLLECTION = "journal"
EXISTING_MODES = ("move_aside", "drop", "fail")
INSERT_BATCH = 1000


@dataclass
class RestorePlan:
    database: str  # the dumped (source) database
    target_database: str
    target: dict[str, Any]  # {"cluster_time": {"t", "i"} | None, "wall_time": iso | None}
    backup_id: str
    dump_consistent_at: dict[str, int] | None
    dump_consistent_wall: str | None
    dump_window_entries: int
    chunks: list[str]  # catalog range ids of the archive chunks to replay
    archive_entries: int  # entries in those chunks (those after the target are not applied)
    archive_reach: dict[str, int] | None
    archive_reach_wall: str | None
    existing: str
    target_collections: list[str] | None = None  # what the target database holds now (None: not looked at)
    actions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreResult:
    changed: bool
    database: str
    target_database: str
    backup_id: str
    target: dict[str, Any]
    recovered_to: dict[str, Any]  # {"cluster_time", "time"}: the last change applied (or the dump's point)
    applied_entries: int
    verified: bool
    verification: dict[str, Any]
    moved_aside_to: str | None
    duration_ms: int
    plan: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------------ plan


def _dump_wall(record: DumpRecord) -> datetime | None:
    return parse_iso(record.cluster_wall) if record.cluster_wall else None


def _reaches(target: RestoreTarget, coverage: archive.Coverage) -> bool:
    if target.cluster_time is not None:
        return coverage.end >= target.cluster_time
    return coverage.end_wall is not None and coverage.end_wall >= target.wall_time


def _starts_before(target: RestoreTarget, record: DumpRecord) -> bool:
    if target.cluster_time is not None:
        return ts_from_dict(record.cluster_time) <= target.cluster_time
    wall = _dump_wall(record)
    return wall is not None and target.wall_time is not None and wall <= target.wall_time


def plan_restore(uri: str | None, repository: Repository | str, database: str, target: Any = None, *,
                 backup_id: str | None = None, target_database: str | None = None, existing: str = "move_aside",
                 catalog_name: str | None = None, client=None) -> RestorePlan:
    """Choose the dump and archive chunks for a restore; reads the repository and (when uri is given) looks at what
    the target database holds now. Writes nothing anywhere.

    target: None (the chosen dump as it is), "latest" (as far as the archive reaches), a cluster time (Timestamp,
    "<s>.<i>", {"t", "i"}), a recovery point's mongodb record, a datetime or an ISO 8601 time. catalog_name: the
    name of a recovery point in the catalog (its mongodb record is the target). Raises RestoreError, touching
    nothing, when no dump precedes the target or the archive does not reach it.
    """
    connection.require_driver()
    repo = resolve_repository(repository)
    require_database_name(database)
    target_database = require_database_name(target_database or database)
    if existing not in EXISTING_MODES:
        raise RestoreError(f"unknown existing={existing!r}: use one of {', '.join(EXISTING_MODES)}")
    if catalog_name is not None:
        point = Catalog(repo).get_recovery_point(catalog_name)
        if point is None or not point.mongodb:
            raise RestoreError(f"recovery point {catalog_name!r} has no MongoDB position in {repo.describe()}")
        target = point.mongodb
    dumps = dump_records(repo, database)
    if backup_id is not None:
        dumps = [d for d in dumps if d.backup_id == backup_id]
        if not dumps:
            raise RestoreError(f"backup {backup_id} is not a MongoDB dump of {database} in {repo.describe()}")
    if not dumps:
        raise RestoreError(f"there is no MongoDB dump of {database} in {repo.describe()}; nothing was touched")
    chunks = archive.list_chunks(repo, database)
    checkpoint = archive.read_checkpoint(repo, database)

    def coverage_of(record: DumpRecord) -> archive.Coverage:
        begin = ts_from_dict(record.cluster_time)
        return archive.coverage_from(chunks, begin, checkpoint, _dump_wall(record))

    consistent = [d for d in dumps if d.cluster_time is not None]
    if target is None:
        record = dumps[-1] if backup_id is None else dumps[0]
        resolved = RestoreTarget(cluster_time=ts_from_dict(record.cluster_time)) if record.cluster_time else None
        chosen, coverage = record, (coverage_of(record) if record.cluster_time else None)
    elif target == "latest":
        if not consistent:
            raise RestoreError(f"no dump of {database} has a consistency point to replay changes from")
        chosen = consistent[-1]
        coverage = coverage_of(chosen)
        resolved = RestoreTarget(cluster_time=coverage.end)
    else:
        resolved = parse_target(target)
        before = [d for d in consistent if _starts_before(resolved, d)]
        if not before:
            oldest = consistent[0] if consistent else dumps[0]
            raise RestoreError(
                f"cannot restore {database} to {resolved.describe()}: it is before the oldest MongoDB dump in "
                f"{repo.describe()} (consistent at {ts_text(ts_from_dict(oldest.cluster_time))}, "
                f"{oldest.cluster_wall}); nothing was touched"
            )
        reaching = _newest_reaching(before, resolved, coverage_of)
        if reaching is None:
            best = coverage_of(before[-1])
            reach = ts_text(best.end) + (f", wall clock {iso(best.end_wall)}" if best.end_wall else "")
            gap = (f"; the archive has a gap after {ts_text(best.gap_after)}" if best.gap_after is not None else "")
            raise RestoreError(
                f"cannot restore {database} to {resolved.describe()}: it is after the newest archived change "
                f"(the change archive from dump {before[-1].backup_id} reaches {reach}{gap}); nothing was touched"
            )
        chosen, coverage = reaching
    needed = []
    if coverage is not None and resolved is not None:
        for chunk in coverage.chunks:
            if resolved.cluster_time is not None and chunk.start >= resolved.cluster_time:
                break
            needed.append(chunk)
    plan = RestorePlan(
        database=database, target_database=target_database,
        target=resolved.to_dict() if resolved else {"cluster_time": None, "wall_time": None},
        backup_id=chosen.backup_id, dump_consistent_at=chosen.cluster_time, dump_consistent_wall=chosen.cluster_wall,
        dump_window_entries=chosen.oplog_entries, chunks=[c.range_id for c in needed],
        archive_entries=sum(c.count for c in needed),
        archive_reach=ts_to_dict(coverage.end) if coverage else None,
        archive_reach_wall=iso(coverage.end_wall) if coverage else None, existing=existing,
    )
    plan.actions = [
        f"fetch and check dump {chosen.backup_id} ({len(chosen.collections)} collections) and "
        f"{len(needed)} archive chunk(s)",
        f"build {database} as of {resolved.describe() if resolved else 'the dump'} in a staging database",
        "verify counts, indexes and content digests",
        ("move the collections of " if existing == "move_aside" else "drop the collections of ")
        + f"{target_database} aside, then rename the staging collections into it",
    ]
    if client is not None:
        plan.target_collections = _user_collections(client, target_database)[0]
    elif uri is not None:
        own_client = connection.connect_tz_aware(uri)
        try:
            plan.target_collections = _user_collections(own_client, target_database)[0]
        finally:
            own_client.close()
    if existing == "fail" and plan.target_collections:
        raise RestoreError(f"database {target_database} already has collections {plan.target_collections[:5]} "
                           "and existing=fail; nothing was touched")
    return plan


def _newest_reaching(dumps: list[DumpRecord], target: RestoreTarget,
                     coverage_of: Callable[[DumpRecord], archive.Coverage],
                     ) -> tuple[DumpRecord, archive.Coverage] | None:
    """The newest of dumps whose change archive reaches target, with that archive coverage; None if none does."""
    for record in reversed(dumps):
        coverage = coverage_of(record)
        if _reaches(target, coverage):
            return record, coverage
    return None


# ----------------------------------------------------------------------------------------------------- fetch


@dataclass
class _Fetched:
    root: Path  # the dump directory
    chunk_files: list[Path]
    chunk_ends: list[Any]  # end (cluster time) of each chunk, in the same order
    metadata: dict[str, dict[str, Any]]  # collection -> metadata document


def _fetch(repo: Repository, plan: RestorePlan, record: DumpRecord, work: Path) -> _Fetched:
    """Download and decode everything; any damage is reported here, before the target is touched."""
    root = work / "dump"
    prefix = record.key_prefix
    try:
        for item in record.objects:
            info = repo.get_file(item["key"], root / item["key"][len(prefix):])
            if info.sha256 != item["sha256"]:
                raise RestoreError(f"{item['key']} in {repo.describe()} is not the object the backup recorded "
                                   f"(sha256 {info.sha256}, catalog says {item['sha256']}); nothing was touched")
        ranges = {c.range_id: c for c in archive.list_chunks(repo, plan.database)}
        chunk_files, chunk_ends = [], []
        for range_id in plan.chunks:
            chunk = ranges.get(range_id)
            if chunk is None:
                raise RestoreError(f"archive chunk {range_id} vanished from {repo.describe()}; nothing was touched")
            path = work / "chunks" / f"{range_id}.bson.gz"
            repo.get_file(chunk.key, path)
            chunk_files.append(path)
            chunk_ends.append(chunk.end)
    except RepositoryError as exc:
        raise RestoreError(f"cannot restore {plan.database}: {exc}; nothing was touched") from exc
    metadata: dict[str, dict[str, Any]] = {}
    try:
        for path in sorted((root / record.database).glob("*" + dump_layout.METADATA_SUFFIX)):
            doc = dump_layout.parse_metadata_json(gzip.decompress(path.read_bytes()))
            metadata[doc["collectionName"]] = doc
        for path in sorted((root / record.database).glob("*" + dump_layout.BSON_SUFFIX)):
            _count_bson(path)
        if (root / dump_layout.OPLOG_FILE).exists():
            _count_bson(root / dump_layout.OPLOG_FILE)
        for path in chunk_files:
            _count_bson(path)
    except (OSError, EOFError, ValueError, connection.bson.errors.InvalidBSON) as exc:
        raise RestoreError(f"a file of backup {record.backup_id} is unreadable: {exc}; nothing was touched") from exc
    missing = set(record.collections) - set(metadata)
    if missing:
        raise RestoreError(f"backup {record.backup_id} lacks metadata for {sorted(missing)}; nothing was touched")
    return _Fetched(root=root, chunk_files=chunk_files, chunk_ends=chunk_ends, metadata=metadata)


def _count_bson(path: Path) -> int:
    with gzip.open(path, "rb") as handle:
        return sum(1 for _document in gzip_documents(handle, connection.RAW_CODEC))


def _entries(path: Path):
    with gzip.open(path, "rb") as handle:
        yield from gzip_documents(handle, connection.DOC_CODEC)


# --------------------------------------------------------------------------------------------------- restore


def _restore_id(plan: RestorePlan) -> str:
    text = f"{plan.backup_id}|{plan.target}|{plan.database}|{plan.target_database}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _side_name(database: str, tag: str, ident: str) -> str:
    base = database.encode()[:40].decode(errors="ignore")
    return f"{base}__dbops_{tag}_{ident}"


def _user_collections(client, database: str) -> tuple[list[str], list[dict[str, Any]]]:
    collections, views = [], []
    for info in client[database].list_collections():
        if info["name"].startswith("system."):
            continue
        if info.get("type") == "view":
            views.append(dict(info))
        else:
            collections.append(info["name"])
    return sorted(collections), views


def restore(uri: str, repository: Repository | str, database: str, target: Any = None, *,
            backup_id: str | None = None, target_database: str | None = None, existing: str = "move_aside",
            catalog_name: str | None = None, check_mode: bool = False, work_dir: str | None = None,
            plan: RestorePlan | None = None, client=None, progress_file: str | None = None) -> RestoreResult:
    """Restore database (as dumped) into target_database (default: the same name) on uri, as of target.

    See plan_restore() for target/catalog_name/backup_id. existing: what happens to collections already in the
    target database: "move_aside" (default; moved into <db>__dbops_pre_<id>, never deleted here), "drop", or
    "fail" (refuse when the target database has collections). check_mode: plan, read, never write. plan: a
    RestorePlan from plan_restore() to carry out (then target/backup_id/... are taken from it). progress_file:
    where the bytes fetched and the documents loaded of the dump's are recorded (progress/progress_file.py).
    """
    connection.require_driver()
    started = time.monotonic()
    repo = resolve_repository(repository)
    if plan is None:
        plan = plan_restore(None, repo, database, target, backup_id=backup_id, target_database=target_database,
                            existing=existing, catalog_name=catalog_name)
    elif plan.database != database:
        raise RestoreError(f"the restore plan is for database {plan.database}, not {database}")
    existing = plan.existing
    record = next(d for d in dump_records(repo, database) if d.backup_id == plan.backup_id)
    restore_id = _restore_id(plan)
    own = client is None
    client = client or connection.connect_tz_aware(uri)
    try:
        journal = client[JOURNAL_DB][JOURNAL_COLLECTION]
        state = journal.find_one({"_id": plan.target_database}) or {}
        same = state.get("restore_id") == restore_id
        if same and state.get("phase") == "done":
            current = {name: d.to_dict() for name, d in database_digests(client, plan.target_database).items()}
            if current == state.get("digests"):
                return _result(False, plan, state, started, moved=state.get("aside"))
        if check_mode:
            return _result(True, plan, {}, started, moved=None, planned=True)
        collections, _views = _user_collections(client, plan.target_database)
        if existing == "fail" and collections and not (same and state.get("phase") in ("aside", "install")):
            raise RestoreError(f"database {plan.target_database} already has collections {collections[:5]} and "
                               "existing=fail; nothing was touched")
        throttle = ThrottledProgress(progress_file)
        progress = DocumentProgress(throttle, "restore", f"mongodb {plan.target_database}",
                                    total=sum(record.counts.values()), collections=len(record.collections))
        if same and state.get("phase") in ("aside", "install"):
            outcome = state  # staging was built and verified: finish the swap
            progress.add(sum(record.counts.values()))  # its documents were loaded by the interrupted run
        else:
            with tempfile.TemporaryDirectory(prefix="dbops-mongorestore-", dir=work_dir) as tmp:
                fetch = ProgressRecord(kind="fetch", name=f"mongodb {plan.backup_id}", unit="bytes", done=0,
                                       total=sum(int(item.get("size") or 0) for item in record.objects) or None,
                                       detail="dump files from the repository", started_at=iso(utc_now()))
                # The files grow in the work directory: progress_info measures it when it reads (watch_dir).
                throttle.put(fetch, force=True, watch_dir=tmp)
                fetched = _fetch(repo, plan, record, Path(tmp))
                throttle.put(replace(fetch, done=fetch.total, status="done", updated_at=iso(utc_now())), force=True)
                outcome = _build_staging(client, plan, record, fetched, restore_id, journal, progress)
        progress.phase(f"moving the restored collections into {plan.target_database}")
        moved = _swap(client, plan, outcome, journal)
        final = journal.find_one({"_id": plan.target_database}) or outcome
        progress.finish(f"restored {plan.target_database} from {plan.backup_id}, "
                        f"{final.get('applied', 0)} change(s) replayed")
        return _result(True, plan, final, started, moved=moved)
    except connection.pymongo_errors.PyMongoError as exc:
        raise RestoreError(f"restore of {database} into {plan.target_database} failed: {exc}") from exc
    finally:
        if own:
            client.close()


def _result(changed: bool, plan: RestorePlan, state: dict[str, Any], started: float, *, moved: str | None,
            planned: bool = False) -> RestoreResult:
    verification = state.get("verification") or {}
    return RestoreResult(
        changed=changed, database=plan.database, target_database=plan.target_database, backup_id=plan.backup_id,
        target=plan.target, recovered_to=state.get("recovered_to") or {}, applied_entries=state.get("applied", 0),
        verified=bool(verification.get("ok")) and not planned, verification=verification, moved_aside_to=moved,
        duration_ms=int((time.monotonic() - started) * 1000), plan=plan.to_dict(),
        warnings=list(verification.get("warnings") or []),
    )


def _build_staging(client, plan: RestorePlan, record: DumpRecord, fetched: _Fetched, restore_id: str,
                   journal, progress: DocumentProgress | None = None) -> dict[str, Any]:
    staging = _side_name(plan.target_database, "rs", restore_id)
    journal.replace_one({"_id": plan.target_database}, {
        "_id": plan.target_database, "restore_id": restore_id, "phase": "build", "staging": staging,
        "backup_id": plan.backup_id, "target": plan.target, "started_at": iso(utc_now()),
    }, upsert=True)
    client.drop_database(staging)
    sdb = client[staging]
    collections = [name for name, meta in fetched.metadata.items() if meta.get("type", "collection") == "collection"]
    views = [meta for meta in fetched.metadata.values() if meta.get("type") == "view"]
    # 1. collections with their options, and their documents as dumped
    loaded: dict[str, int] = {}
    for name in sorted(collections):
        options = dict(fetched.metadata[name].get("options") or {})
        sdb.command({"create": name, **options})
        path = fetched.root / dump_layout.bson_path(record.database, name)
        if progress is not None:
            progress.start_collection(name)
        loaded[name] = _load_documents(sdb[name], path, progress)
        if progress is not None:
            progress.end_collection(path.stat().st_size if path.exists() else None)
    # 2. the dump's own oplog window: makes the fuzzy copy consistent at the dump's cluster time
    applier = OplogApplier(client, record.database, staging)
    window = fetched.root / dump_layout.OPLOG_FILE
    if progress is not None:
        progress.phase(f"replaying the dump's {record.oplog_entries} oplog entries, building indexes")
    if window.exists():
        for entry in _entries(window):
            applier.apply(entry, strict=False)
    window_anomalies = list(applier.stats.anomalies)
    # 3. indexes (after the window: a fuzzy copy may briefly break a unique index the source never broke)
    for name in sorted(collections):
        specs = [spec for spec in fetched.metadata[name].get("indexes", []) if spec.get("name") != "_id_"]
        if specs and name in sdb.list_collection_names():
            clean = [{k: v for k, v in spec.items() if k not in ("ns",)} for spec in specs]
            try:
                sdb.command({"createIndexes": name, "indexes": clean})
            except connection.pymongo_errors.OperationFailure as exc:
                raise RestoreError(f"index build on {name} failed while restoring backup {record.backup_id}: "
                                   f"{exc}; target database untouched, staging kept in {staging}") from exc
    if record.consistency == "snapshot":
        for name, count in record.counts.items():
            if name in loaded and sdb[name].count_documents({}) != count:
                raise RestoreError(f"{name}: {sdb[name].count_documents({})} documents after loading, the dump "
                                   f"recorded {count}; target untouched, staging kept in {staging}")
    # 4. the archive up to the target, strictly
    base_counts = {name: sdb[name].count_documents({}) for name in sdb.list_collection_names()
                   if not name.startswith("system.")}
    applier.stats.count_delta.clear()
    applier.stats.ddl_collections.clear()
    target = _plan_target(plan)
    consistent_at = ts_from_dict(record.cluster_time) if record.cluster_time else None
    last_ts, last_wall = consistent_at, parse_iso(record.cluster_wall) if record.cluster_wall else None
    applied_until = consistent_at  # every change up to here is in the staging database
    applied = 0
    done = False
    if progress is not None:
        progress.phase(f"replaying up to {plan.archive_entries} archived change(s), then verifying")
    for chunk_end, path in zip(fetched.chunk_ends, fetched.chunk_files, strict=True):
        floor = applied_until
        for entry in _entries(path):
            ts = entry["ts"]
            if floor is not None and ts <= floor:
                continue  # before the consistency point, or in an overlapping chunk already applied
            if target is not None and target.cluster_time is not None and ts > target.cluster_time:
                done = True
                break
            wall = aware(entry["wall"]) if entry.get("wall") else None
            if target is not None and target.wall_time is not None and wall is not None and wall > target.wall_time:
                done = True
                break
            applier.apply(entry, strict=True)
            applied += 1
            last_ts, last_wall = ts, wall or last_wall
        if done:
            break
        applied_until = chunk_end if applied_until is None else max(applied_until, chunk_end)
    # 5. verify
    verification = _verify(client, staging, fetched, collections, base_counts, applier)
    verification["window_anomalies"] = len(window_anomalies)
    recovered = {"cluster_time": ts_to_dict(last_ts), "time": iso(last_wall)}
    if target is not None and target.cluster_time is not None:
        recovered["target_cluster_time"] = ts_to_dict(target.cluster_time)
    state = {
        "_id": plan.target_database, "restore_id": restore_id, "phase": "built", "staging": staging,
        "backup_id": plan.backup_id, "target": plan.target, "recovered_to": recovered, "applied": applied,
        "verification": verification, "views_json": _views_json(views),
        "digests": verification["digests"],
    }
    if not verification["ok"]:
        journal.replace_one({"_id": plan.target_database}, {**state, "phase": "verify_failed"}, upsert=True)
        problems = verification["anomalies"][:3] + verification["count_mismatches"][:3] + \
            verification["index_mismatches"][:3]
        raise RestoreError(f"the restored copy of {plan.database} failed verification ({'; '.join(map(str, problems))})"
                           f"; target database {plan.target_database} untouched, staging kept in {staging}")
    journal.replace_one({"_id": plan.target_database}, state, upsert=True)
    return state


def _plan_target(plan: RestorePlan) -> RestoreTarget | None:
    if plan.target.get("cluster_time"):
        return RestoreTarget(cluster_time=ts_from_dict(plan.target["cluster_time"]))
    if plan.target.get("wall_time"):
        return RestoreTarget(wall_time=parse_iso(plan.target["wall_time"]))
    return None


def _load_documents(collection, path: Path, progress: DocumentProgress | None = None) -> int:
    count = 0
    batch: list[Any] = []

    def flush() -> None:
        if not batch:
            return
        try:
            collection.insert_many(batch, ordered=False, bypass_document_validation=True)
        except connection.pymongo_errors.BulkWriteError as exc:
            # A fuzzy read can return a document twice; the later copy wins, as it would in mongorestore.
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != 11000 for err in errors):
                raise
            for err in errors:
                doc = batch[err["index"]]
                collection.replace_one({"_id": doc["_id"]}, doc, bypass_document_validation=True)
        if progress is not None:
            progress.add(len(batch))
        batch.clear()

    with gzip.open(path, "rb") as handle:
        for doc in gzip_documents(handle, connection.RAW_CODEC):
            batch.append(doc)
            count += 1
            if len(batch) >= INSERT_BATCH:
                flush()
    flush()
    return count


def _views_json(views: list[dict[str, Any]]) -> str:
    """View definitions as Extended JSON text: pipelines hold "$" field names a journal document should not."""
    definitions = []
    for meta in views:
        options = dict(meta.get("options") or {})
        definitions.append({"name": meta["collectionName"], "viewOn": options.get("viewOn"),
                            "pipeline": options.get("pipeline", []),
                            **({"collation": options["collation"]} if "collation" in options else {})})
    return connection.bson.json_util.dumps(definitions, json_options=connection.bson.json_util.CANONICAL_JSON_OPTIONS)


def _views_from_json(text: str | None) -> list[dict[str, Any]]:
    return list(connection.bson.json_util.loads(text)) if text else []


def _verify(client, staging: str, fetched: _Fetched, collections: list[str], base_counts: dict[str, int],
            applier: OplogApplier) -> dict[str, Any]:
    sdb = client[staging]
    stats = applier.stats
    present = set(sdb.list_collection_names())
    count_mismatches = []
    for name in sorted(present):
        if name.startswith("system."):
            continue
        delta = stats.count_delta.get(name, 0)
        if delta is None or name not in base_counts:
            continue  # recreated or created by a replayed command: no prediction
        expected = base_counts[name] + delta
        actual = sdb[name].count_documents({})
        if actual != expected:
            count_mismatches.append(f"{name}: {actual} documents, replay predicts {expected}")
    index_mismatches = []
    for name in collections:
        if name not in present or name in stats.ddl_collections:
            continue
        dumped = {spec["name"]: normalize_index_spec(spec) for spec in fetched.metadata[name].get("indexes", [])}
        restored = index_specs(sdb, name)
        if dumped != restored:
            index_mismatches.append(f"{name}: indexes {sorted(restored)} differ from the dump's {sorted(dumped)}")
    digests = {name: d.to_dict() for name, d in database_digests(client, staging).items()}
    ok = not stats.anomalies and not count_mismatches and not index_mismatches
    return {
        "ok": ok, "anomalies": list(stats.anomalies), "count_mismatches": count_mismatches,
        "index_mismatches": index_mismatches, "digests": digests, "warnings": list(stats.warnings),
        "collections": {name: {"count": d["count"], "sha256": d["sha256"]} for name, d in digests.items()},
    }


def _swap(client, plan: RestorePlan, state: dict[str, Any], journal) -> str | None:
    """Move the target's collections aside (or drop them), then move the staging collections in."""
    target, staging = plan.target_database, state["staging"]
    aside = state.get("aside") or (_side_name(target, "pre", state["restore_id"] + _stamp())
                                   if plan.existing == "move_aside" else None)
    by_copy = not _rename_keeps_options(client)
    if state.get("phase") != "install":
        journal.update_one({"_id": target}, {"$set": {"phase": "aside", "aside": aside}})
        collections, views = _user_collections(client, target)
        for view in views:
            if aside:
                options = dict(view.get("options") or {})
                if view["name"] not in client[aside].list_collection_names():
                    client[aside].command({"create": view["name"], **options})
            client[target].drop_collection(view["name"])
        for name in collections:
            if aside:
                _move(client, target, aside, name, by_copy=by_copy)
            else:
                client[target].drop_collection(name)
        journal.update_one({"_id": target}, {"$set": {"phase": "install"}})
    for name in sorted(client[staging].list_collection_names()):
        if name.startswith("system."):
            continue
        _move(client, staging, target, name, by_copy=by_copy)
    existing = set(client[target].list_collection_names())
    for view in _views_from_json(state.get("views_json")):
        if view["name"] not in existing:
            client[target].command({"create": view["name"], **{k: v for k, v in view.items() if k != "name"}})
    client.drop_database(staging)
    digests = {name: d.to_dict() for name, d in database_digests(client, target).items()}
    if digests != state.get("digests"):
        raise RestoreError(f"{target} after the swap does not match the verified staging copy; the previous "
                           f"collections are in {aside or '(dropped)'}")
    journal.update_one({"_id": target}, {"$set": {"phase": "done", "finished_at": iso(utc_now())}})
    return aside


def _rename_keeps_options(client) -> bool:
    """Whether renameCollection across databases keeps a collection's options (mongod does; SecantusDB 0.7 drops
    them), found out on a scratch collection of our own journal database, never assumed."""
    source, scratch = client[JOURNAL_DB], client[JOURNAL_DB + "_probe"]
    source.drop_collection("rename_probe")
    scratch.drop_collection("rename_probe")
    source.create_collection("rename_probe", validator={"probe": {"$exists": True}})
    try:
        _rename(client, f"{JOURNAL_DB}.rename_probe", f"{JOURNAL_DB}_probe.rename_probe")
        info = next(iter(scratch.list_collections(filter={"name": "rename_probe"})), None)
        return bool(info and (info.get("options") or {}).get("validator"))
    finally:
        source.drop_collection("rename_probe")
        client.drop_database(JOURNAL_DB + "_probe")


def _move(client, source_db: str, target_db: str, name: str, *, by_copy: bool) -> None:
    """Move one collection between databases; safe to repeat after an interruption."""
    source, target = client[source_db], client[target_db]
    if name not in source.list_collection_names():
        return  # moved by an earlier, interrupted run
    if not by_copy:
        target.drop_collection(name)  # a leftover of an interrupted copy, never user data (target was emptied)
        _rename(client, f"{source_db}.{name}", f"{target_db}.{name}")
        return
    info = next(iter(source.list_collections(filter={"name": name})))
    target.drop_collection(name)
    target.command({"create": name, **dict(info.get("options") or {})})
    batch: list[Any] = []
    for doc in source.get_collection(name, codec_options=connection.RAW_CODEC).find({}, batch_size=INSERT_BATCH):
        batch.append(doc)
        if len(batch) >= INSERT_BATCH:
            target[name].insert_many(batch, bypass_document_validation=True)
            batch.clear()
    if batch:
        target[name].insert_many(batch, bypass_document_validation=True)
    specs = [{k: v for k, v in dict(spec).items() if k != "ns"} for spec in source[name].list_indexes()
             if spec["name"] != "_id_"]
    if specs:
        target.command({"createIndexes": name, "indexes": specs})
    source.drop_collection(name)


def _rename(client, source: str, target: str) -> None:
    try:
        client.admin.command("renameCollection", source, to=target, dropTarget=False)
    except connection.pymongo_errors.OperationFailure as exc:
        raise RestoreError(f"cannot move {source} to {target}: {exc}") from exc


def _stamp() -> str:
    return utc_now().strftime("%H%M%S")
