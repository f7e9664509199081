"""The directory archive_command and the uploader talk through: requests in, one verdict per segment out.

    <spool>/request/<name>   written by archive_command: the segment's absolute path (wakes the uploader)
    <spool>/ok/<name>        written by the uploader once <name> is in the repository: sha256, size and the
                             identity (device, inode, size, mtime) of the file it read
    <spool>/error/<name>     written by the uploader when archiving <name> failed: the message
    <spool>/uploader.lock    held (flock) by the running uploader for its whole life

No WAL is ever copied into the spool: the uploader reads segments from pg_wal, where PostgreSQL keeps them until
archive_command has exited 0 for them, and archive_command exits 0 only on an ok verdict. So the spool holds no data
that could be lost, fill a disk or go stale; a lost status file only costs one more upload, which the repository's
"same bytes already archived" rule turns into a no-op. Every status file is written to a temp name and renamed, so a
reader never sees half of one.

archive_command imports this file once per segment: it uses os and fcntl only (no pathlib, tempfile, json or
dataclasses, typing: their imports would cost more than the hand-off itself), and its records are plain slotted
classes.
"""

from __future__ import annotations

import fcntl
import os
import time

REQUEST_DIR = "request"
OK_DIR = "ok"
ERROR_DIR = "error"
LOCK_FILE = "uploader.lock"
TMP_PREFIX = ".dbops-tmp-"  # repository.base.TMP_PREFIX: a file being written, never a verdict


class SourceIdentity:
    """Which file was read: a segment PostgreSQL recycled (renamed, rewritten) or restored since has another."""

    __slots__ = ("device", "inode", "size", "mtime_ns")

    def __init__(self, device: int, inode: int, size: int, mtime_ns: int) -> None:
        self.device, self.inode, self.size, self.mtime_ns = device, inode, size, mtime_ns

    @classmethod
    def of(cls, path: str) -> SourceIdentity:
        stat = os.stat(path)
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def fields(self) -> tuple[int, int, int, int]:
        return self.device, self.inode, self.size, self.mtime_ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceIdentity) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())


class Archived:
    """An ok verdict: name is in the repository with this sha256 and size, read from source."""

    __slots__ = ("name", "sha256", "size", "source")

    def __init__(self, name: str, sha256: str, size: int, source: SourceIdentity) -> None:
        self.name, self.sha256, self.size, self.source = name, sha256, size, source

    def line(self) -> str:
        return " ".join([self.sha256, str(self.size), *(str(part) for part in self.source.fields())]) + "\n"

    @classmethod
    def parse(cls, name: str, text: str) -> Archived | None:
        parts = text.split()
        if len(parts) != 6 or not all(part.isdigit() for part in parts[1:]):
            return None
        device, inode, size, mtime_ns = (int(part) for part in parts[2:])
        return cls(name, parts[0], int(parts[1]), SourceIdentity(device, inode, size, mtime_ns))


class ArchiveSpool:
    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def _file(self, directory: str, name: str) -> str:
        return os.path.join(self.path, directory, name)

    def create(self) -> None:
        for directory in (REQUEST_DIR, OK_DIR, ERROR_DIR):
            os.makedirs(os.path.join(self.path, directory), mode=0o700, exist_ok=True)

    def _write(self, directory: str, name: str, content: str) -> None:
        target = self._file(directory, name)
        tmp = self._file(directory, f"{TMP_PREFIX}{os.getpid()}-{time.monotonic_ns()}-{name}")
        try:
            with open(tmp, "x", encoding="utf-8") as handle:
                handle.write(content)
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise

    @staticmethod
    def _read(path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    # archive_command's side

    def request(self, name: str, source: str) -> None:
        """Ask for name to be archived. Any verdict on name is dropped first, so a verdict found with a request is
        newer than it (the uploader skips those: archiving them again would only find them archived)."""
        _unlink(self._file(ERROR_DIR, name))
        _unlink(self._file(OK_DIR, name))
        self._write(REQUEST_DIR, name, os.path.abspath(source))

    def verdict(self, name: str) -> Archived | str | None:
        """The uploader's verdict on name: Archived, an error message, or None while there is none."""
        error = self._read(self._file(ERROR_DIR, name))
        if error is not None:
            return error
        text = self._read(self._file(OK_DIR, name))
        # An unreadable ok file (another layout) reads as no verdict: archived again, a no-op for identical bytes.
        return None if text is None else Archived.parse(name, text)

    def acknowledge(self, name: str) -> None:
        """PostgreSQL is told name is archived (or failed): its verdict and request are done with."""
        for directory in (OK_DIR, ERROR_DIR, REQUEST_DIR):
            _unlink(self._file(directory, name))

    def uploader_running(self) -> bool:
        """True while an uploader holds the lock (a shared probe never blocks a starting uploader for long)."""
        try:
            with open(os.path.join(self.path, LOCK_FILE), "a", encoding="ascii") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                return False
        except OSError:
            return False

    # the uploader's side

    @property
    def lock_path(self) -> str:
        return os.path.join(self.path, LOCK_FILE)

    def requests(self) -> dict[str, str]:
        """The segments archive_command waits for, by name, with their paths."""
        found: dict[str, str] = {}
        try:
            entries = list(os.scandir(os.path.join(self.path, REQUEST_DIR)))
        except FileNotFoundError:
            return found
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            source = self._read(entry.path)
            if source:
                found[entry.name] = source
        return found

    def record_ok(self, archived: Archived) -> None:
        self._write(OK_DIR, archived.name, archived.line())
        _unlink(self._file(REQUEST_DIR, archived.name))

    def record_error(self, name: str, message: str) -> None:
        self._write(ERROR_DIR, name, message)
        _unlink(self._file(REQUEST_DIR, name))

    def has_verdict(self, name: str) -> bool:
        return os.path.exists(self._file(OK_DIR, name)) or os.path.exists(self._file(ERROR_DIR, name))

    def prune(self, older_than_seconds: float) -> None:
        """Drop verdicts nobody asked for (segments archived ahead that PostgreSQL never requested) and temp files
        of an interrupted write."""
        limit = time.time() - older_than_seconds
        for directory in (OK_DIR, ERROR_DIR, REQUEST_DIR):
            for entry in os.scandir(os.path.join(self.path, directory)):
                try:
                    if entry.name.startswith(TMP_PREFIX) or entry.stat().st_mtime < limit:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    continue


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 - contextlib would import collections and functools into every archive_command
        os.unlink(path)
    except FileNotFoundError:
        pass
