"""The size and SHA-256 of every regular file of a tar stream, computed in one pass as the bytes go by.

pg_basebackup's tars are plain ustar (PostgreSQL's tar writer refuses names over 99 bytes and writes no pax or GNU
extension headers), so each 512-byte header is parsed by tarfile's own header parser and the members' data is
hashed straight from one reusable buffer: no tarfile stream object, no copy per member, about half the time of
reading the same stream through tarfile (which matters: every byte of a gigabyte data directory goes through here).
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, field
from typing import Protocol

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

BLOCK = 512
CHUNK = 1 << 20
REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
# Members without data: what pg_basebackup writes besides regular files.
DATALESS_TYPES = (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)


class ReadsInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


@dataclass
class ArchiveDigests:
    """The regular files of one tar of a base backup, by their path inside that tar (without a leading './')."""

    archive: str
    files: dict[str, FileDigest] = field(default_factory=dict)


class _Blocks:
    """A tar stream read in large reads into one buffer; members are handed out as views of it."""

    def __init__(self, stream: ReadsInto, archive: str) -> None:
        self.stream = stream
        self.archive = archive
        self.buffer = bytearray(CHUNK)
        self.view = memoryview(self.buffer)
        self.start = 0
        self.end = 0
        self.eof = False

    def _fill(self) -> None:
        """Read more after the unread bytes (moved to the front first); sets eof when the stream ends."""
        if self.start:
            left = self.end - self.start
            self.view[:left] = self.view[self.start:self.end]
            self.start, self.end = 0, left
        got = self.stream.readinto(self.view[self.end:])
        if not got:
            self.eof = True
            return
        self.end += got

    def header(self) -> bytes | None:
        """The next 512 bytes, or None when the stream ends exactly here."""
        while self.end - self.start < BLOCK:
            self._fill()
            if self.eof:
                if self.end == self.start:
                    return None
                raise DbopsError(f"{self.archive}: tar stream ends inside a header")
        block = bytes(self.view[self.start:self.start + BLOCK])
        self.start += BLOCK
        return block

    def pass_through(self, size: int, digest=None) -> None:
        """Consume size bytes, feeding them to digest when one is given."""
        while size:
            if self.start == self.end:
                self._fill()
                if self.eof:
                    raise DbopsError(f"{self.archive}: tar stream ends inside a member")
            take = min(size, self.end - self.start)
            if digest is not None:
                digest.update(self.view[self.start:self.start + take])
            self.start += take
            size -= take

    def drain(self) -> None:
        """Read to the end (a decompressor checks its frames' integrity only once all is read)."""
        self.start = self.end = 0
        while not self.eof:
            self.start = self.end = 0
            self._fill()


def digest_tar_stream(stream: ReadsInto, archive: str) -> ArchiveDigests:
    """Read a whole tar stream once; the size and SHA-256 of each regular file, by path (DbopsError if unreadable)."""
    blocks = _Blocks(stream, archive)
    found = ArchiveDigests(archive)
    while True:
        block = blocks.header()
        if block is None or block == bytes(BLOCK):  # end of the stream, or the end-of-archive zero blocks
            break
        try:
            member = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise DbopsError(f"{archive}: unreadable tar header: {exc}") from exc
        path = member.name.removeprefix("./")
        padded = -member.size % BLOCK
        if member.type in REGULAR_TYPES:
            if path in found.files:
                raise DbopsError(f"{archive}: {path} appears twice in the tar")
            digest = hashlib.sha256()
            blocks.pass_through(member.size, digest)
            found.files[path] = FileDigest(size=member.size, sha256=digest.hexdigest())
        elif member.type in DATALESS_TYPES:
            blocks.pass_through(member.size)
        else:
            raise DbopsError(f"{archive}: tar member {path} has type {member.type!r}, which pg_basebackup does not "
                             "write")
        blocks.pass_through(padded)
    blocks.drain()
    return found
