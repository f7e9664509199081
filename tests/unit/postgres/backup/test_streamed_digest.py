"""A base backup's tar hashed as it is written: the same digests as reading the finished file, every file checked
against the manifest, and a writer's failure, a tar never written or a damaged stream reported without hanging."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.growing_file import GrowingFile
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.manifest_check import (
    ManifestEntry,
    check_digests,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.streamed_digest import (
    digest_while_written,
    digest_written,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.tar_digest import (
    ArchiveDigests,
    FileDigest,
    digest_tar_stream,
)

# Sizes around the tar block and the reader's buffer (1 MiB), so members straddle reads.
FILES = {"PG_VERSION": b"15\n", "global/pg_control": b"\x07" * 8192, "base/1/1259": bytes(range(256)) * 4099,
         "base/1/empty": b"", "base/1/2608": b"\xab" * (3 << 20) + b"tail"}


def ustar(files: dict[str, bytes], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    """A tar as pg_basebackup writes it: ustar headers, './'-less names, directories and a symlink too."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for directory in ("global", "base", "base/1"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        link = tarfile.TarInfo("pg_wal")
        link.type, link.linkname = tarfile.SYMTYPE, "/elsewhere/pg_wal"
        tar.addfile(link)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size))
    return out.getvalue()


def expected(files: dict[str, bytes]) -> dict[str, FileDigest]:
    return {name: FileDigest(size=len(data), sha256=hashlib.sha256(data).hexdigest()) for name, data in files.items()}


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-1", "-c"], input=data, capture_output=True, check=True).stdout


def test_every_regular_file_is_sized_and_hashed_in_one_pass():
    found = digest_tar_stream(io.BytesIO(ustar(FILES)), "base.tar")
    assert found == ArchiveDigests("base.tar", expected(FILES))


def test_a_tar_cut_inside_a_member_is_refused():
    data = ustar(FILES)
    with pytest.raises(DbopsError, match="ends inside a member"):
        digest_tar_stream(io.BytesIO(data[:len(data) // 2]), "base.tar")


def test_a_member_twice_and_extension_headers_are_refused():
    twice = tarfile.TarInfo("PG_VERSION")
    twice.size = 3
    with pytest.raises(DbopsError, match="PG_VERSION appears twice"):
        digest_tar_stream(io.BytesIO(ustar(FILES, extra=[twice])), "base.tar")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("base/" + "x" * 120)
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DbopsError, match="which pg_basebackup does not write"):
        digest_tar_stream(io.BytesIO(out.getvalue()), "base.tar")


def test_a_tar_read_while_it_is_written_gives_the_digests_of_the_finished_file(tmp_path):
    archive = tmp_path / "base.tar.zst"
    compressed = zstd(ustar(FILES))

    def write() -> None:
        time.sleep(0.05)  # the reader is already waiting for the file to appear
        with archive.open("wb") as handle:
            for start in range(0, len(compressed), 4096):
                handle.write(compressed[start:start + 4096])
                handle.flush()
                time.sleep(0.002)

    streamed = digest_while_written(write, archive, "zstd")
    assert streamed == ArchiveDigests("base.tar.zst", expected(FILES))
    assert digest_written(archive) == streamed


def test_the_writers_failure_is_raised_and_nothing_hangs(tmp_path):
    archive = tmp_path / "base.tar.zst"

    def write() -> None:
        archive.write_bytes(zstd(ustar(FILES))[:5000])
        raise DbopsError("pg_basebackup failed (exit 1): connection lost")

    with pytest.raises(DbopsError, match="connection lost"):
        digest_while_written(write, archive, "zstd")


def test_a_tar_never_written_is_reported(tmp_path):
    with pytest.raises(DbopsError, match="base.tar.zst was not written"):
        digest_while_written(lambda: None, tmp_path / "base.tar.zst", "zstd")


def test_a_damaged_compressed_stream_fails(tmp_path):
    archive = tmp_path / "base.tar.zst"
    data = bytearray(zstd(ustar(FILES)))
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(DbopsError, match="base.tar.zst"):
        digest_written(archive)


def test_an_uncompressed_tar_is_followed_directly(tmp_path):
    archive = tmp_path / "base.tar"
    assert digest_while_written(lambda: archive.write_bytes(ustar(FILES)), archive, "none").files == expected(FILES)


def test_a_growing_file_ends_only_once_its_writer_is_done(tmp_path):
    path = tmp_path / "growing"
    path.write_bytes(b"abc")
    done = threading.Event()
    source = GrowingFile(path, done)
    buffer = memoryview(bytearray(16))
    assert source.readinto(buffer) == 3

    def finish() -> None:
        time.sleep(0.05)
        with path.open("ab") as handle:
            handle.write(b"de")
        done.set()

    threading.Thread(target=finish).start()
    assert bytes(buffer[:source.readinto(buffer)]) == b"de"
    assert source.readinto(buffer) == 0
    source.close()


def manifest_of(files: dict[str, bytes]) -> dict[str, ManifestEntry]:
    return {name: ManifestEntry(size=digest.size, algorithm="SHA256", checksum=digest.sha256)
            for name, digest in expected(files).items()}


@pytest.mark.parametrize(("change", "message"), [
    (lambda files, entries: files.update({"base/1/1259": b"changed"}), "base/1/1259 has size 7"),
    (lambda files, entries: files.update({"PG_VERSION": b"16\n"}), "checksum mismatch for PG_VERSION"),
    (lambda files, entries: files.pop("global/pg_control"), r"missing from the backup, e\.g\. global/pg_control"),
    (lambda files, entries: entries.pop("base/1/empty"), "base/1/empty is present in the backup but not in the"),
    (lambda files, entries: entries.update({"PG_VERSION": ManifestEntry(3, "CRC32C", "0")}), "algorithm CRC32C"),
])
def test_every_difference_from_the_manifest_fails_naming_the_file(change, message):
    files, entries = dict(FILES), manifest_of(FILES)
    change(files, entries)
    with pytest.raises(DbopsError, match=message):
        check_digests([ArchiveDigests("base.tar.zst", expected(files))], entries)


def test_a_backup_matching_its_manifest_counts_every_file_and_skips_what_restores_rewrite():
    files = {**FILES, "backup_manifest": b"{}", "postgresql.auto.conf": b"", "pg_wal/000000010000000000000001": b""}
    checked = check_digests([ArchiveDigests("base.tar.zst", expected(files))], manifest_of(FILES))
    assert checked == len(FILES)
    empty = hashlib.sha256().hexdigest()
    tablespace = ArchiveDigests("16400.tar.zst", {"PG_15_202209061/5/16401": FileDigest(0, empty)})
    entries = {**manifest_of(FILES), "pg_tblspc/16400/PG_15_202209061/5/16401": ManifestEntry(0, "SHA256", empty)}
    assert check_digests([ArchiveDigests("base.tar.zst", expected(FILES)), tablespace], entries) == len(FILES) + 1


def test_digests_of_a_written_tar_need_its_suffix(tmp_path):
    odd = tmp_path / "base.tgz"
    odd.write_bytes(b"")
    with pytest.raises(DbopsError, match="unknown archive type"):
        digest_written(Path(odd))
