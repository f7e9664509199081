"""How the modules and the WAL archiver describe a repository: URL plus S3 settings, opened the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.factory import open_repository

# The archiver's JSON configuration names the URL "repository"; the S3 settings keep their names.
S3_SETTINGS = ("s3_endpoint_url", "s3_access_key", "s3_secret_key", "s3_region")


@dataclass(frozen=True)
class RepositoryOptions:
    url: str
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    retry_seconds: float = 60.0
    local_owner: str | None = None

    def open(self, retry_seconds: float | None = None) -> Repository:
        """The repository; retry_seconds overrides how long transient S3 errors are retried."""
        return open_repository(self.url, s3_endpoint_url=self.s3_endpoint_url, s3_access_key=self.s3_access_key,
                               s3_secret_key=self.s3_secret_key, s3_region=self.s3_region,
                               retry_seconds=self.retry_seconds if retry_seconds is None else retry_seconds,
                               local_owner=self.local_owner)

    def as_settings(self) -> dict[str, Any]:
        """The repository part of the WAL archiver's configuration (credentials included: it is written 0600)."""
        return {"repository": self.url, **{name: getattr(self, name) for name in S3_SETTINGS}}

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> RepositoryOptions:
        return cls(url=str(settings.get("repository") or ""), s3_endpoint_url=settings.get("s3_endpoint_url"),
                   s3_access_key=settings.get("s3_access_key"), s3_secret_key=settings.get("s3_secret_key"),
                   s3_region=settings.get("s3_region"))
