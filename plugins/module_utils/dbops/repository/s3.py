"""An S3 bucket prefix as a repository, through boto3; the sha256 travels as object metadata, written with it.

S3 errors that may go away (connection refused, timeouts, 5xx, throttling) are retried with backoff for a bounded
time, then raised as RepositoryUnavailable, distinct from ObjectMissing (truly absent), because a restore_command
must never mistake the first for the second.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    ObjectInfo,
    ObjectMissing,
    Repository,
    RepositoryUnavailable,
    check_content,
    receive_checked,
    sha256_file,
    validate_key,
)

# boto3 is imported only when an s3:// repository is opened: the WAL archiver runs once per segment and a local
# repository should not pay boto3's import time; it also keeps ansible-test's import sanity test happy.
# Typed Any: boto3 and botocore ship no type information (pyproject: ignore_missing_imports), so that is what
# mypy makes of them anyway; None until _load_boto() binds them.
boto3: Any = None
botocore: Any = None


def _load_boto() -> None:
    global boto3, botocore
    if boto3 is not None:
        return
    try:
        import boto3 as boto3_module
        import botocore.config
        import botocore.exceptions
    except ImportError as exc:
        raise RepositoryError(
            "s3:// repositories need the Python package boto3 on the host running dbops "
            "(Debian: python3-boto3)"
        ) from exc
    boto3 = boto3_module
    botocore = sys.modules["botocore"]


# Objects above this size are uploaded in parts (and downloaded with ranged gets) by boto3's transfer manager.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNKSIZE = 32 * 1024 * 1024
SHA256_METADATA = "sha256"

T = TypeVar("T")


_TRANSIENT_CODES = {
    "500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
    "RequestTimeTooSkewed", "Throttling", "ThrottlingException", "RequestLimitExceeded",
}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_transient(exc: Exception) -> bool:
    if botocore is None:
        return False
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError,
                        botocore.exceptions.ResponseStreamingError)):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        return _error_code(exc) in _TRANSIENT_CODES
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        # e.g. IncompleteReadError, HTTPClientError: the connection broke mid-request.
        return not isinstance(exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.ParamValidationError))
    return isinstance(exc, (ConnectionError, TimeoutError))


def _is_missing(exc: Exception) -> bool:
    return botocore is not None and isinstance(exc, botocore.exceptions.ClientError) and (
        _error_code(exc) in _MISSING_CODES)


class S3Repository(Repository):
    """s3://bucket/prefix through boto3; the sha256 travels as object metadata, written with the object."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, region: str | None = None, retry_seconds: float = 60.0,
                 client=None) -> None:
        _load_boto()
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.retry_seconds = retry_seconds
        if client is None:
            config = botocore.config.Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60,
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None, region_name=region or None, config=config,
            )
        self.client = client

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _retry(self, what: str, key: str, call: Callable[[], T]) -> T:
        """Run call, retrying transient failures with capped exponential backoff within retry_seconds."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.25
        while True:
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - classified below; everything else is re-raised
                if isinstance(exc, RepositoryError):
                    raise
                if _is_missing(exc):
                    raise ObjectMissing(f"{key} is not in repository {self.url}") from exc
                if not _is_transient(exc):
                    raise RepositoryError(f"{what} {key} in {self.url} failed: {exc}") from exc
                if time.monotonic() + delay > deadline:
                    raise RepositoryUnavailable(
                        f"{what} {key} in {self.url} failed: repository unreachable for {self.retry_seconds:.0f}s "
                        f"({exc})"
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not cryptography
                delay = min(delay * 2, 5.0)

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNKSIZE,
                              max_concurrency=4, use_threads=True)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        full = self._full(key)
        sha, size = sha256_file(path)
        extra = {"Metadata": {SHA256_METADATA: sha}}
        self._retry("upload of", key, lambda: self.client.upload_file(
            str(path), self.bucket, full, ExtraArgs=extra, Config=self._transfer_config()))
        return ObjectInfo(key, size, sha)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        full = self._full(key)
        sha = hashlib.sha256(data).hexdigest()
        self._retry("upload of", key, lambda: self.client.put_object(
            Bucket=self.bucket, Key=full, Body=data, Metadata={SHA256_METADATA: sha}))
        return ObjectInfo(key, len(data), sha)

    def head(self, key: str) -> ObjectInfo | None:
        full = self._full(key)
        try:
            response = self._retry("head of", key, lambda: self.client.head_object(Bucket=self.bucket, Key=full))
        except ObjectMissing:
            return None
        sha = (response.get("Metadata") or {}).get(SHA256_METADATA)
        if not sha:
            # Written by something else than dbops: not one of our objects, treat as absent rather than trust it.
            return None
        modified = response.get("LastModified")
        return ObjectInfo(key, int(response["ContentLength"]), sha, modified.timestamp() if modified else None)

    def _expected(self, key: str) -> ObjectInfo:
        info = self.head(key)
        if info is None:
            raise ObjectMissing(f"{key} is not in repository {self.url}")
        return info

    def get_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        full = self._full(key)
        info = self._expected(key)

        def download(tmp_name: str) -> tuple[str, int]:
            self._retry("download of", key, lambda: self.client.download_file(
                self.bucket, full, tmp_name, Config=self._transfer_config()))
            return sha256_file(tmp_name)

        receive_checked(key, self.url, info, path, download)
        return info

    def get_bytes(self, key: str) -> bytes:
        full = self._full(key)
        info = self._expected(key)

        def fetch() -> bytes:
            return self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read()

        data = self._retry("download of", key, fetch)
        check_content(key, self.url, info.sha256, info.size, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full_prefix = (self.prefix + "/" if self.prefix else "") + prefix
        strip = len(self.prefix) + 1 if self.prefix else 0

        def collect() -> list[dict]:
            items: list[dict] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                items.extend(page.get("Contents", []))
            return items

        items = self._retry("listing of", prefix or "/", collect)
        found = []
        for item in items:
            key = item["Key"][strip:]
            # Listing does not return metadata; the sha256 is checked on read, here it is only looked up lazily.
            modified = item.get("LastModified")
            found.append(ObjectInfo(key, int(item["Size"]), "", modified.timestamp() if modified else None))
        found.sort(key=lambda info: info.key)
        return found

    def delete(self, key: str) -> None:
        full = self._full(key)
        self._retry("delete of", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=full))

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (used by tests and first-time set-up)."""
        try:
            self._retry("head of bucket", self.bucket, lambda: self.client.head_bucket(Bucket=self.bucket))
        except (ObjectMissing, RepositoryError):
            self._retry("creation of bucket", self.bucket, lambda: self.client.create_bucket(Bucket=self.bucket))


def parse_s3_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://"):]
    bucket, _sep, prefix = rest.partition("/")
    if not bucket:
        raise RepositoryError(f"invalid S3 repository URL {url!r}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")
