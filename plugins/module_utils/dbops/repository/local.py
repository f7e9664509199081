"""A local directory as a repository: objects are plain files (usable by hand), each with a sha256 sidecar.

Durability rules, because WAL archiving and restores depend on them:
- writes go to a temp file in the target directory, are fsynced, renamed into place, and the directory is
  fsynced, so a crash never leaves a partial object under its final key;
- an object counts as present only when its checksum is present too (data is renamed first, the sidecar last),
  so an interrupted write looks absent and is simply written again.
"""

from __future__ import annotations

import io
import os
import pwd
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    SIDECAR_SUFFIX,
    TMP_PREFIX,
    ObjectInfo,
    ObjectMissing,
    Repository,
    RepositoryUnavailable,
    check_content,
    copy_hashing,
    receive_checked,
    validate_key,
)


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

    def _write_atomic(self, target: Path, fill: Callable[[BinaryIO], object],
                      before_replace: Callable[[], None] | None = None) -> None:
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
    def _store(self, key: str, source: BinaryIO) -> ObjectInfo:
        """Every write goes through here: data atomically into place, then its sidecar."""
        target = self._path(key)
        stored: list[tuple[str, int]] = []
        try:
            self._write_atomic(target, lambda handle: stored.append(copy_hashing(source, handle)),
                               self._retire_sidecar(target))
            sha, size = stored[0]
            self._write_sidecar(target, sha, size)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise RepositoryError(f"cannot store {key} in {self.url}: {exc}") from exc
        return ObjectInfo(key, size, sha)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        try:
            with open(path, "rb") as source:
                return self._store(key, source)
        except OSError as exc:  # the source could not be opened
            raise RepositoryError(f"cannot store {key} in {self.url}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        return self._store(key, io.BytesIO(data))

    # reads
    def head(self, key: str) -> ObjectInfo | None:
        try:
            return self._info(key, self._path(key))
        except OSError as exc:
            raise RepositoryUnavailable(f"cannot stat {key} in {self.url}: {exc}") from exc

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        """What is stored at path, or None while it is not a complete object (no sidecar, or no data)."""
        recorded = self._read_sidecar(path)
        if recorded is None:
            return None
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key, stat.st_size, recorded[0], stat.st_mtime)

    def _expect(self, key: str) -> tuple[Path, str, int]:
        path = self._path(key)
        recorded = self._read_sidecar(path)
        if recorded is None or not path.exists():
            raise ObjectMissing(f"{key} is not in repository {self.url}")
        return path, recorded[0], recorded[1]

    def get_file(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        source, expected, expected_size = self._expect(key)

        def copy(tmp_name: str) -> tuple[str, int]:
            with open(tmp_name, "wb") as out, open(source, "rb") as handle:
                return copy_hashing(handle, out)

        try:
            receive_checked(key, self.url, ObjectInfo(key, expected_size, expected), path, copy)
        except FileNotFoundError as exc:  # deleted between the sidecar read and the copy
            raise ObjectMissing(f"{key} is not in repository {self.url}") from exc
        return ObjectInfo(key, expected_size, expected)

    def get_bytes(self, key: str) -> bytes:
        source, expected, expected_size = self._expect(key)
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in repository {self.url}") from exc
        check_content(key, self.url, expected, expected_size, *copy_hashing(io.BytesIO(data)))
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
                if key.startswith(prefix):
                    info = self._info(key, full)
                    if info is not None:
                        found.append(info)
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
