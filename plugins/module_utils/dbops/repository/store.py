"""Backup repositories: a local directory or an S3 bucket prefix, every object carrying its sha256.

A repository is a flat key space ("pg/wal/000000010000000000000003", "catalog/backups/<id>.json", ...).
Every object is written with its sha256 (S3: object metadata written in the same request; local: a sidecar
file next to it) and every read checks it, so a flipped bit or a truncated upload surfaces as a
RepositoryError naming the key instead of a silently broken restore.

Durability rules, because WAL archiving and restores depend on them:
- local writes go to a temp file in the target directory, are fsynced, renamed into place, and the directory is
  fsynced, so a crash never leaves a partial object under its final key;
- an object counts as present only when its checksum is present too (data is renamed first, the sidecar last),
  so an interrupted write looks absent and is simply written again;
- S3 errors that may go away (connection refused, timeouts, 5xx, throttling) are retried with backoff for a
  bounded time, then raised as RepositoryUnavailable, distinct from ObjectMissing (truly absent), because a
  restore_command must never mistake the first for the second.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import random
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError

# boto3 is imported only when an s3:// repository is opened: the WAL archiver runs once per segment and a local
# repository should not pay boto3's import time; it also keeps ansible-test's import sanity test happy.
boto3 = None
botocore = None


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


CHUNK = 1024 * 1024
SIDECAR_SUFFIX = ".dbops-sha256"
TMP_PREFIX = ".dbops-tmp-"
# Objects above this size are uploaded in parts (and downloaded with ranged gets) by boto3's transfer manager.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNKSIZE = 32 * 1024 * 1024
SHA256_METADATA = "sha256"

T = TypeVar("T")


class ObjectMissing(RepositoryError):
    """The key is truly absent from the repository (not: the repository could not be reached)."""


class ChecksumMismatch(RepositoryError):
    """The bytes read do not match the sha256 stored with the object."""


class RepositoryUnavailable(RepositoryError):
    """The repository could not be reached within the retry budget; the object may well exist."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str
    # When the object was stored (POSIX seconds), where the backend says; not part of equality.
    modified: float | None = field(default=None, compare=False)


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def validate_key(key: str) -> str:
    """Keys are relative POSIX paths without '..', empty parts, or names that collide with our bookkeeping."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise RepositoryError(f"invalid repository key {key!r}: must be a relative path like 'pg/wal/<name>'")
    for part in key.split("/"):
        if part in ("", ".", "..") or part.startswith(TMP_PREFIX) or part.endswith(SIDECAR_SUFFIX):
            raise RepositoryError(f"invalid repository key {key!r}: component {part!r} is not allowed")
    return key


class Repository(ABC):
    """What every repository offers. Keys are '/'-separated; list(prefix) matches on the raw string prefix."""

    url: str

    @abstractmethod
    def put_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        """Store a local file under key (replacing any object there) and return what was stored."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        """Store bytes under key (replacing any object there)."""

    @abstractmethod
    def get_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        """Write the object to path (atomically: temp file + rename) after checking its sha256."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's bytes, checked against its sha256."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The stored size and sha256 of key, or None when it is absent."""

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every complete object whose key starts with prefix, sorted by key."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove key; absent keys are fine (deletes are idempotent)."""

    def describe(self) -> str:
        return self.url

    def verify(self, key: str) -> ObjectInfo:
        """Read the whole object and check its sha256 without keeping it (ChecksumMismatch names the key)."""
        with tempfile.TemporaryDirectory(prefix="dbops-verify-") as tmp:
            return self.get_file(key, Path(tmp) / "object")


# --------------------------------------------------------------------------------------------------- local


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalRepository(Repository):
    """A directory. Objects are plain files (so a dump can be used by hand), each with a sha256 sidecar."""

    def __init__(self, root: str | os.PathLike[str], *, owner: str | None = None) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        # When root writes into a repository the cluster's OS user also writes to (the WAL archiver), the files
        # and directories it creates are handed to that user so both can keep writing.
        self._owner: tuple[int, int] | None = None
        if owner and os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(owner)
            except KeyError as exc:
                raise RepositoryError(f"the OS user {owner!r} meant to own repository {root} does not exist") from exc
            self._owner = (entry.pw_uid, entry.pw_gid)

    # paths
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(validate_key(key)).parts)

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(path.name + SIDECAR_SUFFIX)

    def _chown(self, path: Path) -> None:
        if self._owner:
            os.chown(path, *self._owner)

    def _makedirs(self, directory: Path) -> None:
        missing: list[Path] = []
        probe = directory
        while not probe.exists():
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue
            self._chown(path)
            _fsync_dir(path.parent)

    def _write_atomic(
        self, target: Path, fill: Callable[[object], None], before_replace: Callable[[], None] | None = None
    ) -> None:
        self._makedirs(target.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o640)
            self._chown(tmp)
            if before_replace is not None:
                before_replace()
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _retire_sidecar(self, path: Path) -> Callable[[], None]:
        """Overwriting a key: drop its old checksum before the new data lands, so a crash between the data rename
        and the new sidecar leaves the object absent (rewritten by a retry), never a permanent checksum mismatch."""

        def retire() -> None:
            sidecar = self._sidecar(path)
            if sidecar.exists():
                sidecar.unlink()
                _fsync_dir(path.parent)

        return retire

    def _write_sidecar(self, path: Path, sha256: str, size: int) -> None:
        text = f"{sha256} {size}\n".encode()
        self._write_atomic(self._sidecar(path), lambda handle: handle.write(text))

    def _read_sidecar(self, path: Path) -> tuple[str, int] | None:
        try:
            fields = self._sidecar(path).read_text().split()
            return fields[0], int(fields[1])
        except (OSError, ValueError, IndexError):
            return None

    # writes
    def put_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        target = self._path(key)
        digest = hashlib.sha256()
        size = 0

        def fill(handle) -> None:
            nonlocal size
            with open(path, "rb") as source:
                while True:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)

        try:
            self._write_atomic(target, fill, self._retire_sidecar(target))
            self._write_sidecar(target, digest.hexdigest(), size)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise RepositoryError(f"cannot store {key} in {self.url}: {exc}") from exc
        return ObjectInfo(key, size, digest.hexdigest())

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        target = self._path(key)
        sha = hashlib.sha256(data).hexdigest()
        try:
            self._write_atomic(target, lambda handle: handle.write(data), self._retire_sidecar(target))
            self._write_sidecar(target, sha, len(data))
            _fsync_dir(target.parent)
        except OSError as exc:
            raise RepositoryError(f"cannot store {key} in {self.url}: {exc}") from exc
        return ObjectInfo(key, len(data), sha)

    # reads
    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        recorded = self._read_sidecar(path)
        if recorded is None:
            return None
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RepositoryUnavailable(f"cannot stat {key} in {self.url}: {exc}") from exc
        return ObjectInfo(key, stat.st_size, recorded[0], stat.st_mtime)

    def _expect(self, key: str) -> tuple[Path, str, int]:
        path = self._path(key)
        recorded = self._read_sidecar(path)
        if recorded is None or not path.exists():
            raise ObjectMissing(f"{key} is not in repository {self.url}")
        return path, recorded[0], recorded[1]

    def get_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        source, expected, expected_size = self._expect(key)
        destination = Path(path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=destination.parent)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as handle:
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            _check(key, self.url, expected, expected_size, digest.hexdigest(), size)
            os.replace(tmp_name, destination)
        except FileNotFoundError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise ObjectMissing(f"{key} is not in repository {self.url}") from exc
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return ObjectInfo(key, size, expected)

    def get_bytes(self, key: str) -> bytes:
        source, expected, expected_size = self._expect(key)
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in repository {self.url}") from exc
        _check(key, self.url, expected, expected_size, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        # Walk only the directory the prefix points into, not the whole repository.
        head = prefix.rpartition("/")[0]
        start = self.root.joinpath(*PurePosixPath(head).parts) if head else self.root
        found: list[ObjectInfo] = []
        if not start.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [name for name in dirnames if not name.startswith(TMP_PREFIX)]
            names = set(filenames)
            for name in filenames:
                if name.endswith(SIDECAR_SUFFIX) or name.startswith(TMP_PREFIX):
                    continue
                if name + SIDECAR_SUFFIX not in names:
                    continue  # interrupted write: not an object yet
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                recorded = self._read_sidecar(full)
                if recorded is None:
                    continue
                try:
                    stat = full.stat()
                except FileNotFoundError:
                    continue
                found.append(ObjectInfo(key, stat.st_size, recorded[0], stat.st_mtime))
        found.sort(key=lambda info: info.key)
        return found

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            # Sidecar first: from that moment the object reads as absent, even if the data unlink is interrupted.
            self._sidecar(path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise RepositoryError(f"cannot delete {key} from {self.url}: {exc}") from exc


def _check(key: str, url: str, expected: str, expected_size: int | None, actual: str, size: int) -> None:
    if actual != expected or (expected_size is not None and expected_size != size):
        raise ChecksumMismatch(
            f"checksum mismatch for {key} in {url}: stored sha256 {expected} ({expected_size} bytes), "
            f"read {actual} ({size} bytes); the object is corrupted"
        )


# ------------------------------------------------------------------------------------------------------ S3

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
        destination = Path(path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=destination.parent)
        os.close(fd)
        try:
            self._retry("download of", key, lambda: self.client.download_file(
                self.bucket, full, tmp_name, Config=self._transfer_config()))
            sha, size = sha256_file(tmp_name)
            _check(key, self.url, info.sha256, info.size, sha, size)
            os.replace(tmp_name, destination)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return info

    def get_bytes(self, key: str) -> bytes:
        full = self._full(key)
        info = self._expected(key)

        def fetch() -> bytes:
            return self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read()

        data = self._retry("download of", key, fetch)
        _check(key, self.url, info.sha256, info.size, hashlib.sha256(data).hexdigest(), len(data))
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


# ----------------------------------------------------------------------------------------------- factory


def parse_s3_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://"):]
    bucket, _sep, prefix = rest.partition("/")
    if not bucket:
        raise RepositoryError(f"invalid S3 repository URL {url!r}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


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


def copy_tree_to_repository(repo: Repository, directory: str | os.PathLike[str], key_prefix: str) -> list[ObjectInfo]:
    """Upload every regular file under directory to key_prefix/<relative path>, in sorted order."""
    base = Path(directory)
    stored: list[ObjectInfo] = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        stored.append(repo.put_file(f"{key_prefix}/{path.relative_to(base).as_posix()}", path))
    return stored


def fetch_tree_from_repository(repo: Repository, key_prefix: str,
                               directory: str | os.PathLike[str]) -> list[ObjectInfo]:
    """Download every object under key_prefix/ into directory, checking each checksum."""
    base = Path(directory)
    fetched: list[ObjectInfo] = []
    for info in repo.list(key_prefix.rstrip("/") + "/"):
        relative = info.key[len(key_prefix.rstrip("/")) + 1:]
        fetched.append(repo.get_file(info.key, base / relative))
    return fetched
