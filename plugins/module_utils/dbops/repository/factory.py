"""Opening a repository from its URL: a local directory (absolute path or file://) or s3://bucket/prefix."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.local import LocalRepository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.s3 import S3Repository, parse_s3_url


def open_repository(url: str, *, s3_endpoint_url: str | None = None, s3_access_key: str | None = None,
                    s3_secret_key: str | None = None, s3_region: str | None = None,
                    retry_seconds: float = 60.0, local_owner: str | None = None) -> Repository:
    """A Repository for a local directory (absolute path or file://) or s3://bucket/prefix.

    retry_seconds bounds how long transient S3 errors are retried before RepositoryUnavailable; local_owner is
    the OS user that should own what a root process creates in a local repository (the cluster's OS user).
    """
    if not url:
        raise RepositoryError("no repository given: set repository to a directory or s3://bucket/prefix")
    if url.startswith("s3://"):
        bucket, prefix = parse_s3_url(url)
        return S3Repository(bucket, prefix, endpoint_url=s3_endpoint_url, access_key=s3_access_key,
                            secret_key=s3_secret_key, region=s3_region, retry_seconds=retry_seconds)
    if url.startswith("file://"):
        url = url[len("file://"):]
    if "://" in url:
        raise RepositoryError(f"unsupported repository URL {url!r}: use a directory path or s3://bucket/prefix")
    path = Path(url)
    if not path.is_absolute():
        raise RepositoryError(f"local repository path {url!r} must be absolute")
    return LocalRepository(path, owner=local_owner)
