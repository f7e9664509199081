"""How the modules describe a repository: URL plus S3 settings, opened the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.store import (
    Repository,
    open_repository,
)


@dataclass(frozen=True)
class RepositoryOptions:
    url: str
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    retry_seconds: float = 60.0
    local_owner: str | None = None

    def open(self) -> Repository:
        return open_repository(self.url, s3_endpoint_url=self.s3_endpoint_url, s3_access_key=self.s3_access_key,
                               s3_secret_key=self.s3_secret_key, s3_region=self.s3_region,
                               retry_seconds=self.retry_seconds, local_owner=self.local_owner)
