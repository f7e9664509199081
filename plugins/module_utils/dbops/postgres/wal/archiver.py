"""The WAL archiver PostgreSQL runs as archive_command and restore_command.

    archive_command = '<python> <dbops-wal-archive> --config <file> push %p %f'
    restore_command = '<python> <dbops-wal-archive> --config <file> fetch %f %p'

push copies a segment into the repository with its sha256 (fsync + atomic rename for a local repository). When the
key already holds the same bytes it succeeds (PostgreSQL re-archives after a crash between our copy and its own
bookkeeping); different bytes are refused with a non-zero exit, never overwritten. Any failure exits non-zero, so
PostgreSQL keeps the segment in pg_wal and retries: nothing is lost while the repository is down.

fetch exits 1 only when the file is truly absent (how PostgreSQL learns that the archive ends there, and that a
timeline history file does not exist). A repository that stays unreachable, or a segment whose checksum does not
match, exits 255: PostgreSQL treats exit codes above 125 as fatal and aborts recovery instead of ending it early at
the wrong point and promoting.

PostgreSQL calls restore_command once per segment, serially with replay, so each call's cost (interpreter start,
copy, sha256) adds up over a restore. When fetch restores a WAL segment into a data directory's pg_wal, it also
starts a background copy of the next segments (same timeline) into pg_wal/dbops-prefetch, each checked against its
sha256 and renamed into place only when complete; a later fetch finds its segment there and only renames it. Only
fetch decides what is absent or broken: a segment the background copy could not get (absent, repository down,
checksum mismatch) is simply not in the spool, and fetch reads the repository itself with the rules above.

With "spool_dir" in the configuration, push only hands the segment to the long-lived uploader (`upload`, started
by a supervisor: archive_uploader.py) and waits for its verdict on that segment (archive_handoff.py says why it
acknowledges only after the upload); without it, push uploads the segment itself, as above.

The config file is JSON: {"repository": "...", "s3_endpoint_url": ..., "s3_access_key": ..., "s3_secret_key": ...,
"s3_region": ..., "push_retry_seconds": 30, "fetch_retry_seconds": 600, "fetch_prefetch": 8, "spool_dir": null,
"upload_workers": 4, "push_wait_seconds": 60, "uploader_grace_seconds": 10}. It holds credentials:
mode 0600, owned by the cluster's OS user. This file runs under the system python3 of the database host (no Ansible,
stdlib + boto3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.prefetched_fetch import (
    PREFETCH_DIR,
    is_segment_name,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    TMP_PREFIX,
    ChecksumMismatch,
    ObjectMissing,
    Repository,
    sha256_file,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions

WAL_PREFIX = "pg/wal/"
EXIT_OK = 0
EXIT_FAILED = 1  # archive: PostgreSQL retries; fetch: "no such file"
EXIT_FATAL = 255  # fetch: abort recovery rather than stop early
PREFETCH_LOCK = ".lock"
PREFETCH_RETRY_SECONDS = 5.0  # the background copy gives up quickly: fetch itself retries for as long as configured
TUNING_KEYS = ("push_retry_seconds", "fetch_retry_seconds", "fetch_prefetch", "spool_dir", "upload_workers",
               "push_wait_seconds", "uploader_grace_seconds")


@dataclass(frozen=True)
class ArchiverConfig:
    repository: RepositoryOptions
    push_retry_seconds: float = 30.0
    fetch_retry_seconds: float = 600.0
    fetch_prefetch: int = 8  # segments copied ahead into pg_wal/dbops-prefetch; 0 turns it off
    spool_dir: str | None = None  # hand segments to the uploader through this directory; None: push uploads
    upload_workers: int = 4  # the uploader's uploads in flight
    push_wait_seconds: float = 60.0  # how long push waits for the uploader's verdict before it fails
    uploader_grace_seconds: float = 10.0  # no uploader for this long: push uploads its segment itself

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ArchiverConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RepositoryError(f"cannot read the archiver configuration: {exc}", path=str(path)) from exc
        tuning = {key: data[key] for key in TUNING_KEYS if data.get(key) is not None}
        return cls(repository=RepositoryOptions.from_settings(data), **tuning)

    def open(self, retry_seconds: float) -> Repository:
        return self.repository.open(retry_seconds)


def wal_key(name: str) -> str:
    if "/" in name or not name or name.startswith("."):
        raise RepositoryError(f"invalid WAL file name {name!r}")
    return WAL_PREFIX + name


@dataclass(frozen=True)
class PushOutcome:
    result: str  # "stored" or "already archived"
    sha256: str
    size: int


def push(repo: Repository, source: str | os.PathLike[str], name: str) -> str:
    """Archive one WAL file; returns "stored" or "already archived". Raises on any failure or conflict."""
    return push_checked(repo, source, name).result


def push_checked(repo: Repository, source: str | os.PathLike[str], name: str) -> PushOutcome:
    """push, also returning the sha256 and size that are now in the repository under name."""
    key = wal_key(name)
    sha, size = sha256_file(source)
    existing = repo.head(key)
    if existing is not None:
        if existing.sha256 == sha and existing.size == size:
            return PushOutcome("already archived", sha, size)
        raise RepositoryError(
            f"refusing to overwrite {key} in {repo.describe()}: it holds different content "
            f"(sha256 {existing.sha256}, {existing.size} bytes; this one {sha}, {size} bytes). Is another "
            "cluster archiving into the same repository?"
        )
    stored = repo.put_file(key, source)
    if stored.sha256 != sha:
        raise RepositoryError(f"{name} changed while it was archived (sha256 {sha} then {stored.sha256})")
    return PushOutcome("stored", sha, size)


def fetch(repo: Repository, name: str, destination: str | os.PathLike[str]) -> None:
    """Restore one WAL file to destination, checking its sha256. ObjectMissing when it is not archived."""
    repo.get_file(wal_key(name), destination)


def next_segment_names(name: str, segment_size: int, count: int) -> list[str]:
    """The count segment names after name on the same timeline (segment_size from the fetched file)."""
    per_id = 0x100000000 // segment_size
    number = int(name[8:16], 16) * per_id + int(name[16:24], 16)
    return [f"{name[:8]}{(n // per_id):08X}{(n % per_id):08X}" for n in range(number + 1, number + 1 + count)]


def spool_of(destination: str | os.PathLike[str]) -> Path | None:
    """pg_wal/dbops-prefetch when PostgreSQL restores into a data directory's pg_wal, else None (no prefetch)."""
    parent = Path(destination).parent
    return parent / PREFETCH_DIR if parent.name == "pg_wal" else None


def take_spooled(spool: Path, name: str, destination: str | os.PathLike[str]) -> bool:
    """Move a prefetched segment into place; False when it is not (yet) in the spool."""
    try:
        os.replace(spool / name, destination)
    except FileNotFoundError:
        return False
    return True


def _prefetch(config: ArchiverConfig, spool: Path, names: list[str]) -> None:
    """Copy names into the spool, in order, until one cannot be had; one worker at a time (a lock in the spool)."""
    import fcntl  # pylint: disable=import-outside-toplevel

    with open(spool / PREFETCH_LOCK, "a", encoding="ascii") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # another worker is already copying ahead
        # Segments before the first wanted one of the same timeline will not be asked for again; leftovers of an
        # interrupted copy neither.
        for entry in spool.iterdir():
            stale = is_segment_name(entry.name) and entry.name[:8] == names[0][:8] and entry.name < names[0]
            if stale or entry.name.startswith(TMP_PREFIX):
                entry.unlink(missing_ok=True)
        repo = config.open(PREFETCH_RETRY_SECONDS)
        for name in names:
            if not (spool / name).exists():
                fetch(repo, name, spool / name)


def prefetch_plan(config: ArchiverConfig, destination: str | os.PathLike[str], name: str,
                  segment_size: int | None = None) -> tuple[Path, list[str]] | None:
    """(spool, the segments to copy ahead) after name was restored to destination (segment_size: its size, when
    PostgreSQL may have consumed it already); None when not worth it."""
    spool = spool_of(destination)
    if spool is None or config.fetch_prefetch <= 0 or not is_segment_name(name):
        return None
    if segment_size is None:
        segment_size = os.stat(destination).st_size
    if segment_size <= 0 or 0x100000000 % segment_size:
        return None
    names = next_segment_names(name, segment_size, config.fetch_prefetch)
    ahead = sum(1 for item in names if (spool / item).exists())
    if ahead > config.fetch_prefetch // 2:
        return None  # still well ahead of replay: not worth a process
    spool.mkdir(mode=0o700, exist_ok=True)
    return spool, names


def start_prefetch(config: ArchiverConfig, destination: str | os.PathLike[str], name: str) -> None:
    """After name was restored to destination, copy the next segments into the spool in a detached child."""
    try:
        plan = prefetch_plan(config, destination, name)
        if plan is None:
            return
        spool, names = plan
        pid = os.fork()
    except OSError:
        return  # prefetching is an optimisation only
    if pid:
        return
    # The child: detached from PostgreSQL's restore_command (which waits for our parent only), quiet, and gone
    # with os._exit so nothing of the parent's (buffers, atexit) runs twice.
    status = 0
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _prefetch(config, spool, names)
    except BaseException:  # noqa: BLE001 - whatever fails, fetch reads the repository itself
        status = 1
    os._exit(status)  # pylint: disable=protected-access


def check(repo: Repository) -> None:
    """Prove this user can write, read and delete in the repository (what archiving and restores need)."""
    key = f"pg/probe/{os.uname().nodename}-{os.getpid()}"
    payload = f"dbops archiver probe {time.time()}".encode()
    repo.put_bytes(key, payload)
    try:
        if repo.get_bytes(key) != payload:
            raise RepositoryError(f"{key} read back different content")
    finally:
        repo.delete(key)


def _log(message: str) -> None:
    # stderr ends up in the PostgreSQL server log next to PostgreSQL's own "archive command failed" line.
    print(f"dbops-wal-archive: {message}", file=sys.stderr, flush=True)  # pylint: disable=ansible-bad-function


def push_command(config: ArchiverConfig, path: str, name: str, *, direct: bool = False) -> int:
    """archive_command: 0 only once name is in the repository, uploaded here or (spool_dir) by the uploader."""
    # Imported here, not at the top: archive_uploader imports this module, and archive_command with a spool runs
    # archive_handoff alone (dbops-wal-push), which must stay free of this module's imports.
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal import archive_handoff
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_spool import (
        ArchiveSpool,
    )

    try:
        if config.spool_dir and not direct:
            outcome, message = archive_handoff.hand_off(
                ArchiveSpool(config.spool_dir), path, name, wait_seconds=config.push_wait_seconds,
                uploader_grace_seconds=config.uploader_grace_seconds)
            if outcome == archive_handoff.ARCHIVED:
                return EXIT_OK
            if outcome == archive_handoff.FAILED:
                _log(message)
                return EXIT_FAILED
            _log(f"no uploader is running on {config.spool_dir}: archiving {name} directly")
        result = push(config.open(config.push_retry_seconds), path, name)
    except (DbopsError, OSError) as exc:
        _log(f"archiving {name} failed: {exc}")
        return EXIT_FAILED
    if result != "stored":
        _log(f"{name}: {result} with identical content")
    return EXIT_OK


def upload_command(config: ArchiverConfig) -> int:
    """The long-lived uploader of config.spool_dir, until SIGTERM or SIGINT."""
    import signal  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel

    # Imported here, not at the top: it imports this module (push_checked).
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_spool import (
        ArchiveSpool,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_uploader import (
        Uploader,
    )

    if not config.spool_dir:
        _log("upload needs spool_dir in the configuration")
        return EXIT_FAILED
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    uploader = Uploader(ArchiveSpool(config.spool_dir), lambda: config.open(config.push_retry_seconds),
                        workers=max(1, config.upload_workers), log=_log)
    try:
        uploader.run(stop)
    except (DbopsError, OSError) as exc:
        _log(f"the uploader stopped: {exc}")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbops-wal-archive", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True, help="JSON configuration file (repository and credentials)")
    sub = parser.add_subparsers(dest="action", required=True)
    push_parser = sub.add_parser("push", help="archive_command: push %%p %%f")
    push_parser.add_argument("--direct", action="store_true",
                             help="upload here even with spool_dir (what dbops-wal-push falls back to)")
    push_parser.add_argument("path")
    push_parser.add_argument("name")
    fetch_parser = sub.add_parser("fetch", help="restore_command: fetch %%f %%p")
    fetch_parser.add_argument("name")
    fetch_parser.add_argument("path")
    sub.add_parser("check", help="store, read back and delete a probe object (set-up check)")
    sub.add_parser("upload", help="run the uploader push hands segments to (spool_dir); stops on SIGTERM")
    prefetch_parser = sub.add_parser("prefetch", help="copy the segments after %%f into %%p's prefetch spool "
                                                      "(what dbops-wal-fetch starts in the background)")
    prefetch_parser.add_argument("--segment-size", type=int, help="the size of the segment restored to path")
    prefetch_parser.add_argument("name")
    prefetch_parser.add_argument("path")
    args = parser.parse_args(argv)

    try:
        config = ArchiverConfig.load(args.config)
    except DbopsError as exc:
        _log(str(exc))
        return EXIT_FAILED if args.action == "push" else EXIT_FATAL

    if args.action == "check":
        try:
            check(config.open(config.push_retry_seconds))
        except (DbopsError, OSError) as exc:
            _log(f"the repository is not usable: {exc}")
            return EXIT_FAILED
        return EXIT_OK

    if args.action == "push":
        return push_command(config, args.path, args.name, direct=args.direct)
    if args.action == "upload":
        return upload_command(config)
    if args.action == "prefetch":
        try:
            plan = prefetch_plan(config, args.path, args.name, args.segment_size)
            if plan is not None:
                _prefetch(config, *plan)
        except (DbopsError, OSError):
            return EXIT_FAILED  # an optimisation only: fetch reads the repository itself
        return EXIT_OK

    spool = spool_of(args.path) if config.fetch_prefetch > 0 and is_segment_name(args.name) else None
    if spool is not None and take_spooled(spool, args.name, args.path):
        start_prefetch(config, args.path, args.name)
        return EXIT_OK
    deadline = time.monotonic() + config.fetch_retry_seconds
    while True:
        try:
            fetch(config.open(max(deadline - time.monotonic(), 1.0)), args.name, args.path)
            start_prefetch(config, args.path, args.name)
            return EXIT_OK
        except ObjectMissing:
            return EXIT_FAILED
        except ChecksumMismatch as exc:
            _log(f"refusing to restore {args.name}: {exc}")
            return EXIT_FATAL
        except (DbopsError, OSError) as exc:
            # Includes RepositoryUnavailable after its own retries; keep going until our deadline, then abort.
            if time.monotonic() >= deadline:
                _log(f"cannot fetch {args.name}, giving up after {config.fetch_retry_seconds:.0f}s: {exc}")
                return EXIT_FATAL
            _log(f"fetching {args.name} failed, retrying: {exc}")
            time.sleep(2)


if __name__ == "__main__":  # pragma: no cover - the installed entry point calls main()
    sys.exit(main())  # pylint: disable=ansible-bad-function
