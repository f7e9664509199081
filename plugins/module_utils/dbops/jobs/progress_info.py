"""The progress_info module's engine: one look at the progress records of long work on the given databases.

Read only, short: a poller (the collection's action plugins) runs it every few seconds while the work itself runs
as an asynchronous job, and turns two readings into a rate and an ETA (progress/rate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import DatabaseConnections
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected as mongo_connected
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import connect
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.progress_file import read_progress_file
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.readers import (
    POSTGRES_READERS,
    SOURCES,
    ProgressReading,
    mongodb_backfills,
)


@dataclass(frozen=True)
class ProgressRequest:
    databases: DatabaseConnections
    sources: tuple[str, ...] = SOURCES
    # A progress file work without a database table writes (a restore, a MongoDB dump: progress/progress_file.py).
    progress_file: str | None = None


@dataclass
class ProgressResult(JobReport):
    records: list[dict[str, Any]] = field(default_factory=list)


def read_progress(request: ProgressRequest) -> ProgressResult:
    unknown = sorted(set(request.sources) - set(SOURCES))
    if unknown:
        raise DbopsError(f"unknown progress source(s) {', '.join(unknown)}: use {', '.join(SOURCES)}")
    databases = request.databases
    if not databases.postgres_dsn and not databases.mongodb_uri and not request.progress_file:
        raise DbopsError("progress_info needs postgres_dsn and/or mongodb_uri (with mongodb_database), or "
                         "progress_file")
    reading = ProgressReading()
    if request.progress_file:
        reading.records.extend(read_progress_file(request.progress_file))
    # No source, no connection: a restore's poller reads its file only, while the server is down.
    if databases.postgres_dsn and set(request.sources) & set(POSTGRES_READERS):
        with connect(databases.postgres_dsn, connect_timeout=5) as conn:
            for source in request.sources:
                POSTGRES_READERS[source](conn, reading)
    if databases.mongodb_uri and "backfills" in request.sources:
        uri, database = databases.require_mongodb()
        with mongo_connected(uri, "reading the migrations' progress", timeout_ms=5000) as client:
            mongodb_backfills(client[database], reading)
    return ProgressResult(records=[record.to_dict() for record in reading.records], queries=reading.queries)
