"""Hashing the files of a base backup's tar as pg_basebackup writes it, so that checking them costs no second read.

The tar (compressed by the server) is read as it grows (growing_file), fed to the zstd / lz4 tool, and every file
of the decompressed stream is sized and hashed (tar_digest), by two threads while pg_basebackup runs in the
caller's: when pg_basebackup exits, its data has been read once and only the comparison with the backup_manifest it
wrote last is left (manifest_check). A tar already written is read by the same code, its writer simply done, so a
backup checked as it streams and one checked afterwards go through one reader and one comparison.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup import tar_archive
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.growing_file import GrowingFile
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.piped_process import (
    PipedProcess,
    start_piped,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.tar_digest import (
    CHUNK,
    ArchiveDigests,
    digest_tar_stream,
)


def digest_while_written(write: Callable[[], None], archive: Path, method: str) -> ArchiveDigests:
    """Run write() (the program writing archive, compressed with method) while archive is read and its files are
    hashed; their digests once write() has returned and the whole archive is read. An error of write() is raised
    as it is (a stream it cut short says nothing more)."""
    writer_done = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dbops-digest") as pool:
        reading = pool.submit(_digest, GrowingFile(archive, writer_done), archive.name, method, pool)
        try:
            write()
        finally:
            writer_done.set()
        return reading.result()


def digest_written(archive: Path) -> ArchiveDigests:
    """The digests of a tar already written, by the same reader."""
    return digest_while_written(lambda: None, archive, tar_archive.suffix_of(archive.name))


def _digest(source: GrowingFile, name: str, method: str, pool: ThreadPoolExecutor) -> ArchiveDigests:
    try:
        if method == "none":
            return digest_tar_stream(source, name)
        read_end, write_end = os.pipe()
        try:
            producer = start_piped(tar_archive.decompressor(method), stdin=read_end)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        feeding = pool.submit(_feed, source, write_end)
        return _decompressed_digests(producer, feeding, name)
    except OSError as exc:
        raise DbopsError(f"{name}: unreadable: {exc}") from exc
    finally:
        source.close()


def _feed(source: GrowingFile, write_end: int) -> None:
    """Copy source to the decompressor's stdin until source ends; a decompressor that stopped reading ends it too."""
    buffer = memoryview(bytearray(CHUNK))
    try:
        with os.fdopen(write_end, "wb") as sink:
            while True:
                got = source.readinto(buffer)
                if not got:
                    return
                sink.write(buffer[:got])
    except BrokenPipeError:
        return  # the reading side failed or was stopped; it reports why


def _decompressed_digests(producer: PipedProcess, feeding: Future[None], name: str) -> ArchiveDigests:
    try:
        # Raw reads of the pipe (nothing was read through its buffered reader): no second buffer on the way.
        digests = digest_tar_stream(io.FileIO(producer.stdout.fileno(), closefd=False), name)
        producer.process.wait()
    except BaseException:
        producer.process.kill()
        raise
    finally:
        producer.stdout.close()
        producer.process.wait()
        # The feeder's failure (the tar never written, unreadable) is what cut the stream short: it is the one told.
        feeding.result()
    errors = producer.stderr.read().decode(errors="replace").strip()
    producer.stderr.close()
    if producer.process.returncode != 0:
        raise DbopsError(f"{name}: decompression failed: {errors}")
    return digests
