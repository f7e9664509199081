"""The metric families of each module's result: what an operator alerts on, as gauges.

Times are exported as Unix timestamps, never as ages: a file written by the last run stays true until the next one
(an age would be stale as soon as it is written), and the age is `time() - metric` in PromQL. Each function
returns the families of one source, plus the names of the families that source owns, so a family it no longer reports
(a database dropped from the run) is removed from the file instead of staying stale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import InvalidTime, parse_iso
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.metrics.family import MetricFamily, gauge

DATABASES = ("postgres", "mongodb")


@dataclass
class SourceMetrics:
    families: list[MetricFamily]
    owned_names: tuple[str, ...]


def _timestamp(text: Any) -> float | None:
    if not text:
        return None
    try:
        return parse_iso(str(text)).timestamp()
    except InvalidTime:
        return None


def _labels(environment: str | None, **labels: object) -> dict[str, object]:
    return {"environment": environment, **labels}


def _parts(entry: dict[str, Any]) -> dict[str, Any]:
    parts = entry.get("parts")
    return parts if isinstance(parts, dict) else {}


def _sets(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value or [] if isinstance(entry, dict)]


def migration_metrics(result: dict[str, Any], environment: str | None, now: float) -> SourceMetrics:
    """From a migrate result. The whole ledger (a state=status result's sets, or a run's `ledger.sets`) gives
    each database's version and its sets by state; a run (not a status) gives its outcome, duration and time."""
    is_status = result.get("phase") == "status" and not result.get("failed")
    ledger = _sets(result.get("sets")) if is_status else _sets((result.get("ledger") or {}).get("sets"))
    families: list[MetricFamily] = []
    owned: list[str] = []
    if ledger:
        families += _ledger_families(ledger, environment)
        owned += [family.name for family in families]
    if is_status:
        return SourceMetrics(families, tuple(owned))
    ran = _sets(result.get("sets"))
    success = gauge("migration_last_run_success", "1 when the last migrate or rollback run succeeded, else 0.")
    duration = gauge("migration_last_run_duration_seconds",
                     "Time the last run spent on the sets that have a part in the database.")
    finished = gauge("migration_last_run_timestamp_seconds", "When the last migrate or rollback run ended.")
    acted = [entry for entry in ran if entry.get("action") in ("apply", "rollback", "compensate")]
    failed = bool(result.get("failed")) or any(entry.get("status") == "failed" for entry in ran)
    # The databases the run concerned; a run that found nothing to do still reports its success for them.
    databases = sorted({db for entry in (ran or ledger) for db in _parts(entry) if db in DATABASES})
    for database in databases:
        mine = [entry for entry in acted if database in _parts(entry)]
        labels = _labels(environment, database=database)
        success.add(0 if failed else 1, **labels)
        duration.add(sum(int(entry.get("duration_ms") or 0) for entry in mine) / 1000, **labels)
        finished.add(now, **labels)
    # Merged per database (not owned): a run on PostgreSQL alone keeps MongoDB's last run.
    return SourceMetrics([*families, success, duration, finished], tuple(owned))


def _ledger_families(ledger: list[dict[str, Any]], environment: str | None) -> list[MetricFamily]:
    version = gauge("migration_version_info", "The newest migration set applied to the database (label version).")
    by_state = gauge("migration_sets", "Migration sets in the ledger, by the state of the database's part.")
    for database in sorted({db for entry in ledger for db in _parts(entry) if db in DATABASES}):
        states = Counter(str(_parts(entry)[database]) for entry in ledger if database in _parts(entry))
        for state, count in sorted(states.items()):
            by_state.add(count, **_labels(environment, database=database, state=state))
        applied = [entry["version"] for entry in ledger if _parts(entry).get(database) == "applied"]
        if applied:
            version.add(1, **_labels(environment, database=database, version=applied[-1]))
    return [version, by_state]


def _newest(records: Iterable[dict[str, Any]], key: str) -> dict[str, Any] | None:
    dated = [(stamp, record) for record in records if (stamp := _timestamp(record.get(key))) is not None]
    return max(dated, key=lambda item: item[0])[1] if dated else None


def backup_metrics(result: dict[str, Any], environment: str | None) -> SourceMetrics:
    """From a backup or backup_info result: the newest backup per engine and kind, recovery points, the WAL
    archive and the MongoDB change capture."""
    catalog = result.get("catalog") or {}
    backups = [b for b in catalog.get("backups") or result.get("backups") or [] if isinstance(b, dict)]
    last_time = gauge("backup_last_timestamp_seconds", "When the newest complete backup finished.")
    last_size = gauge("backup_last_size_bytes", "Size of the newest complete backup in the repository.")
    count = gauge("backups", "Complete backups in the repository's catalog.")
    for engine, kind in sorted({(b.get("engine"), b.get("kind")) for b in backups}, key=str):
        mine = [b for b in backups if b.get("engine") == engine and b.get("kind") == kind]
        labels = _labels(environment, engine=engine, kind=kind)
        count.add(len(mine), **labels)
        newest = _newest(mine, "finished_at")
        if newest is not None:
            last_time.add(_timestamp(newest["finished_at"]) or 0, **labels)
            last_size.add(int(newest.get("size_bytes") or 0), **labels)
    families = [last_time, last_size]
    owned: list[str] = []
    if "catalog" in result:  # the whole catalog: these families are complete; a backup run only adds its own
        families.append(count)
        owned += [last_time.name, last_size.name, count.name]
        points = gauge("recovery_point_last_timestamp_seconds", "When the newest recovery point was recorded.")
        newest_point = _newest(catalog.get("recovery_points") or [], "created_at")
        if newest_point is not None:
            points.add(_timestamp(newest_point["created_at"]) or 0, **_labels(environment))
        families.append(points)
        owned.append(points.name)
    families += _wal_families(result, environment, owned)
    families += _capture_families(result, environment, owned)
    return SourceMetrics(families, tuple(owned))


def _wal_families(result: dict[str, Any], environment: str | None, owned: list[str]) -> list[MetricFamily]:
    archiver, chain = result.get("archiver"), result.get("wal_chain")
    if not isinstance(archiver, dict) and not isinstance(chain, dict):
        return []
    failing = gauge("wal_archive_failing", "1 when PostgreSQL's last archive attempt failed (pg_stat_archiver).")
    archived = gauge("wal_archive_last_archived_timestamp_seconds", "When the newest WAL segment was archived.")
    behind = gauge("wal_archive_segments_behind", "Complete WAL segments not archived yet.")
    missing = gauge("wal_archive_missing_segments", "Segments missing from the archive since the oldest base backup.")
    labels = _labels(environment)
    if isinstance(archiver, dict):
        failing.add(bool(archiver.get("failing")), **labels)
        stamp = _timestamp(archiver.get("last_archived_time"))
        if stamp is not None:
            archived.add(stamp, **labels)
    if isinstance(chain, dict):
        if chain.get("segments_behind") is not None:
            behind.add(int(chain["segments_behind"]), **labels)
        missing.add(int(chain.get("missing_count") or 0), **labels)
    families = [failing, archived, behind, missing]
    owned += [f.name for f in families]
    return families


def _capture_families(result: dict[str, Any], environment: str | None, owned: list[str]) -> list[MetricFamily]:
    capture = result.get("mongodb_capture")
    if not isinstance(capture, dict):
        return []
    covered = gauge("change_capture_covered_timestamp_seconds",
                    "Wall time up to which the MongoDB change capture has archived the database's changes.")
    gaps = gauge("change_capture_gaps", "Holes between the change capture's archived chunks.")
    labels = _labels(environment, database=capture.get("database"))
    stamp = _timestamp(capture.get("end_wall"))
    if stamp is not None:
        covered.add(stamp, **labels)
    gaps.add(len(capture.get("gaps") or []), **labels)
    owned += [covered.name, gaps.name]
    return [covered, gaps]


def read_only_metrics(result: dict[str, Any], environment: str | None) -> SourceMetrics:
    """From a read_only result: 1 per database while emergency read-only mode is engaged."""
    engaged = gauge("read_only", "1 while the database is in the collection's emergency read-only mode.")
    phases = result.get("phases") or {}
    looked_at = set(result.get("databases") or ()) | set(phases) | set(result.get("previous") or {})
    for database in DATABASES:
        if database in looked_at:
            engaged.add(phases.get(database) == "engaged", **_labels(environment, database=database))
    return SourceMetrics([engaged], (engaged.name,))


def recovery_point_metrics(result: dict[str, Any], environment: str | None) -> SourceMetrics:
    newest = gauge("recovery_point_last_timestamp_seconds", "When the newest recovery point was recorded.")
    stamp = _timestamp(result.get("time"))
    if stamp is not None:
        newest.add(stamp, **_labels(environment))
    return SourceMetrics([newest], (newest.name,) if stamp is not None else ())


def replication_metrics(result: dict[str, Any], environment: str | None) -> SourceMetrics:
    """From a replication_sync-shaped result (lag_bytes, lag_seconds, per database when given)."""
    lag_bytes = gauge("replication_lag_bytes", "How far the replica (green) is behind its source, in bytes.")
    lag_seconds = gauge("replication_lag_seconds", "How far the replica (green) is behind its source, in seconds.")
    given = result.get("databases")
    entries: dict[str, Any] = given if isinstance(given, dict) else {"": result}
    for database, entry in sorted(entries.items()):
        labels = _labels(environment, database=database or None)
        if entry.get("lag_bytes") is not None:
            lag_bytes.add(float(entry["lag_bytes"]), **labels)
        if entry.get("lag_seconds") is not None:
            lag_seconds.add(float(entry["lag_seconds"]), **labels)
    return SourceMetrics([lag_bytes, lag_seconds], (lag_bytes.name, lag_seconds.name))
