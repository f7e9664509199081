"""Fixtures of the backup / PITR tests (helpers in tests/support/backup_env.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
from tests.support.backup_env import ArchivedCluster, start_archived_cluster
from tests.support.pg_cluster import PG_OS_USER
from tests.support.wal_archiver import InstalledArchiver, install_archiver, new_local_repository_dir


@pytest.fixture(scope="session")
def archiver() -> Iterator[InstalledArchiver]:
    installed = install_archiver()
    try:
        yield installed
    finally:
        installed.destroy()


@pytest.fixture
def local_repo_dir() -> Iterator[Path]:

    path = new_local_repository_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def local_cluster(archiver, local_repo_dir) -> Iterator[ArchivedCluster]:
    options = RepositoryOptions(url=str(local_repo_dir), local_owner=PG_OS_USER)
    archived = start_archived_cluster(archiver, options, {"repository": str(local_repo_dir)})
    try:
        yield archived
    finally:
        archived.cluster.destroy()  # the data directories moved aside live in the same base dir
