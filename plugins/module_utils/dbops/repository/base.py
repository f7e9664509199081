"""What every backup repository offers, and the checksum rules all of them share.

A repository is a flat key space ("pg/wal/000000010000000000000003", "catalog/backups/<id>.json", ...).
Every object is written with its sha256 and every read checks it, so a flipped bit or a truncated upload surfaces
as a RepositoryError naming the key instead of a silently broken restore. Where the sha256 lives is the backend's
business (local.py: a sidecar file; s3.py: object metadata); how it is computed and compared is decided here once.
"""

from __future__ import annotations

import builtins  # Repository has a method named list: its annotations name the type builtins.list
import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError

CHUNK = 1024 * 1024
SIDECAR_SUFFIX = ".dbops-sha256"
TMP_PREFIX = ".dbops-tmp-"


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


def copy_hashing(source: BinaryIO, destination: BinaryIO | None = None) -> tuple[str, int]:
    """(sha256, size) of what source yields, copying it to destination on the way when one is given."""
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        if destination is not None:
            destination.write(chunk)
    return digest.hexdigest(), size


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    with open(path, "rb") as handle:
        return copy_hashing(handle)


def check_content(key: str, url: str, expected: str, expected_size: int | None, actual: str, size: int) -> None:
    """The one comparison of what was read against what was stored; ChecksumMismatch names the key."""
    if actual != expected or (expected_size is not None and expected_size != size):
        raise ChecksumMismatch(
            f"checksum mismatch for {key} in {url}: stored sha256 {expected} ({expected_size} bytes), "
            f"read {actual} ({size} bytes); the object is corrupted"
        )


def receive_checked(key: str, url: str, expected: ObjectInfo, destination: str | os.PathLike[str],
                    fill: Callable[[str], tuple[str, int]]) -> None:
    """Write an object to destination through a temp file beside it, renamed into place only once what fill
    wrote (fill returns its sha256 and size) matches expected: a corrupted read never replaces a good file."""
    target = Path(destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
    os.close(fd)
    try:
        check_content(key, url, expected.sha256, expected.size, *fill(tmp_name))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


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

    def put_tree(self, directory: str | os.PathLike[str], key_prefix: str) -> builtins.list[ObjectInfo]:
        """Upload every regular file under directory to key_prefix/<relative path>, in sorted order."""
        base = Path(directory)
        return [self.put_file(f"{key_prefix}/{path.relative_to(base).as_posix()}", path)
                for path in sorted(p for p in base.rglob("*") if p.is_file())]
