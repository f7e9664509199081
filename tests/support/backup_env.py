"""Backup / PITR test helpers: clusters that archive to a repository through the installed archiver, S3 settings."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.binaries import DEFAULT_BIN_DIR
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions

from .pg_cluster import PgCluster, new_cluster
from .s3_server import ACCESS_KEY, REGION, SECRET_KEY
from .wal_archiver import InstalledArchiver

PG_BIN_DIR = os.environ.get("DBOPS_PG_BIN_DIR", DEFAULT_BIN_DIR)


@dataclass
class ArchivedCluster:
    """A cluster whose WAL goes to `options` through the installed archiver."""

    cluster: PgCluster
    options: RepositoryOptions
    archiver: InstalledArchiver
    config_name: str

    @property
    def dsn(self) -> str:
        return self.cluster.dsn()

    @property
    def repo(self) -> Repository:
        return self.options.open()

    def rows(self, table: str = "t") -> list[int]:
        with psycopg.connect(self.dsn) as conn:
            return [r[0] for r in conn.execute(f"select id from {table} order by id").fetchall()]

    def execute(self, sql: str):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchone() if cur.description else None


def start_archived_cluster(archiver: InstalledArchiver, options: RepositoryOptions, archiver_config: dict,
                           extra_conf: dict[str, str] | None = None) -> ArchivedCluster:
    name = "c" + uuid.uuid4().hex[:8]
    archiver.write_config({"push_retry_seconds": 5, "fetch_retry_seconds": 60, **archiver_config}, name)
    cluster = new_cluster()
    settings = {
        "archive_mode": "on",
        "archive_command": f"'{archiver.archive_command(name)}'",
        "restore_command": f"'{archiver.restore_command(name)}'",
    }
    settings.update(extra_conf or {})
    cluster.append_conf(settings)
    cluster.restart()
    return ArchivedCluster(cluster, options, archiver, name)


def s3_options(endpoint: str, bucket: str, retry_seconds: float = 30) -> RepositoryOptions:
    return RepositoryOptions(url=f"s3://{bucket}/cluster", s3_endpoint_url=endpoint, s3_access_key=ACCESS_KEY,
                             s3_secret_key=SECRET_KEY, s3_region=REGION, retry_seconds=retry_seconds)


def s3_archiver_config(endpoint: str, bucket: str) -> dict:
    return {"repository": f"s3://{bucket}/cluster", "s3_endpoint_url": endpoint, "s3_access_key": ACCESS_KEY,
            "s3_secret_key": SECRET_KEY, "s3_region": REGION}


def new_bucket(s3_server) -> str:
    bucket = "pitr-" + uuid.uuid4().hex[:10]
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket


@contextmanager
def running_capture(uri: str, options: RepositoryOptions, database: str) -> Iterator[None]:
    """The MongoDB change capture of database into the repository, on a thread, for the length of the block
    (flushing and checkpointing every 0.2 s, so a recovery point taken in the block finds its changes)."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.capture import ChangeCapture

    stop = threading.Event()
    capture = ChangeCapture(uri, options.open(), database, flush_interval_s=0.2, checkpoint_interval_s=0.2)
    thread = threading.Thread(target=capture.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
