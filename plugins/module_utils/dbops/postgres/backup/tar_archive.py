"""Compressing and extracting the tar files of a base backup with the zstd / lz4 / tar command-line tools.

The tools are multi-threaded C (zstd -T0) and stream through a pipe, far faster than Python's tarfile on a
gigabyte data directory.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.backup.piped_process import start_piped

# The engine runs PostgreSQL's and the compressors' programs itself (it has no AnsibleModule and its
# run_command), so ansible-test's advice to use run_command does not apply here.
# pylint: disable=ansible-bad-function

SUFFIXES = {"zstd": ".zst", "lz4": ".lz4", "none": ""}


def suffix_of(name: str) -> str:
    for method, suffix in SUFFIXES.items():
        if suffix and name.endswith(".tar" + suffix):
            return method
    if name.endswith(".tar"):
        return "none"
    raise DbopsError(f"unknown archive type: {name}")


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if not found:
        raise DbopsError(f"the {name} command is needed on this host (Debian package {name})")
    return found


def tool(name: str) -> str:
    """Path of a compression command-line tool, or a clear error naming the Debian package."""
    return _tool(name)


def decompressor(method: str) -> list[str]:
    """The command decompressing method's stdin to its stdout (its own integrity checks fail it on damage)."""
    if method == "zstd":
        return [_tool("zstd"), "-d", "-c", "-q"]
    if method == "lz4":
        return [_tool("lz4"), "-d", "-c", "-q"]
    raise DbopsError(f"no decompressor for {method!r}")


def compress_file(path: Path, method: str, level: int | None = None) -> Path:
    """Compress path in place (path -> path.zst / .lz4) and return the new path; 'none' leaves it."""
    if method == "none":
        return path
    target = path.with_name(path.name + SUFFIXES[method])
    if method == "zstd":
        argv = [_tool("zstd"), "-q", "-f", "-T0", f"-{level or 3}", str(path), "-o", str(target)]
    else:
        argv = [_tool("lz4"), "-q", "-f", f"-{level or 1}", str(path), str(target)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DbopsError(f"compressing {path.name} with {method} failed: {result.stderr.strip()}")
    path.unlink()
    return target


def extract(archive: Path, destination: Path) -> None:
    """Extract a (possibly compressed) tar into destination, which must exist."""
    method = suffix_of(archive.name)
    # Keep the archive's modes (data files 0600, directories 0700); ownership is fixed by a chown afterwards.
    tar = [_tool("tar"), "-x", "-f", "-", "-C", str(destination), "--no-same-owner", "--same-permissions"]
    if method == "none":
        result = subprocess.run([*tar[:3], str(archive), *tar[4:]], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DbopsError(f"extracting {archive.name} failed: {result.stderr.strip()}")
        return
    decompress = [_tool("zstd"), "-d", "-c", "-q", str(archive)] if method == "zstd" else \
        [_tool("lz4"), "-d", "-c", "-q", str(archive)]
    producer = start_piped(decompress)
    consumer = subprocess.run(tar, stdin=producer.stdout, capture_output=True, text=True, check=False)
    producer.stdout.close()
    producer_err = producer.stderr.read().decode(errors="replace")
    producer.process.wait()
    if producer.process.returncode != 0 or consumer.returncode != 0:
        raise DbopsError(f"extracting {archive.name} failed: {(producer_err + consumer.stderr).strip()}")
