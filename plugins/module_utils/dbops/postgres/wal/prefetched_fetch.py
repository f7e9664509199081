"""restore_command's fast path: a segment the archiver already copied ahead is renamed into place, nothing more.

    restore_command = '<python3> -S <dbops-wal-fetch> --prefetch <n> --config <file> %f %p'

PostgreSQL calls restore_command once per segment, serially with replay. The archiver's fetch copies the next
segments into pg_wal/dbops-prefetch in the background, each checked against its sha256 and renamed into the spool
only when complete (archiver.start_prefetch); most calls then only have to rename one file, and starting a full
Python (site-packages, boto3, the repository code) for that was most of their cost. This command is started with -S
and imports os and sys only:

- the segment is in the spool: rename it to %p and exit 0; when half of the segments ahead have been taken, start
  the archiver's `prefetch` in the background (detached: PostgreSQL waits for this process only) to copy more;
- anything else (not a WAL segment, not restoring into pg_wal, not prefetched yet, prefetch off): exec the archiver's
  `fetch`, which alone decides what is absent (exit 1) or broken (exit 255) and starts the prefetch itself.
"""

from __future__ import annotations

import os
import sys

PREFETCH_DIR = "dbops-prefetch"
HEX_DIGITS = frozenset("0123456789ABCDEF")
EXIT_FAILED = 1


def is_segment_name(name: str) -> bool:
    return len(name) == 24 and set(name) <= HEX_DIGITS


def spool_of(destination: str) -> str | None:
    """pg_wal/dbops-prefetch when PostgreSQL restores into a data directory's pg_wal, else None (no prefetch)."""
    parent = os.path.dirname(os.path.abspath(destination))
    return os.path.join(parent, PREFETCH_DIR) if os.path.basename(parent) == "pg_wal" else None


def segments_ahead(spool: str, name: str) -> int:
    """Prefetched segments after name on its timeline."""
    try:
        return sum(1 for entry in os.listdir(spool) if is_segment_name(entry) and entry[:8] == name[:8] and
                   entry > name)
    except OSError:
        return 0


def take_prefetched(spool: str, name: str, destination: str) -> bool:
    try:
        os.replace(os.path.join(spool, name), destination)
    except FileNotFoundError:
        return False
    return True


def _run_detached(argv: list[str]) -> None:
    """Start argv in a new session with its output discarded, and do not wait for it."""
    try:
        pid = os.fork()
    except OSError:
        return  # prefetching is an optimisation only
    if pid:
        os.waitpid(pid, 0)  # the first child exits at once: nothing is left for PostgreSQL to wait for
        return
    try:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(argv[0], argv)
    finally:
        os._exit(0)  # pylint: disable=protected-access


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    rest: list[str] = []
    index = 0
    while index < len(argv):
        if argv[index] in ("--prefetch", "--config", "--archiver") and index + 1 < len(argv):
            options[argv[index][2:]] = argv[index + 1]
            index += 2
        else:
            rest.append(argv[index])
            index += 1
    return options, rest


def main(argv: list[str] | None = None) -> int:
    """restore_command: --prefetch <n> --config <file> [--archiver <script>] <name> <destination>."""
    options, rest = _options(sys.argv[1:] if argv is None else argv)
    if len(rest) != 2 or "config" not in options:
        sys.stderr.write("dbops-wal-fetch: usage: dbops-wal-fetch --prefetch <n> --config <file> %f %p\n")
        return EXIT_FAILED
    name, destination = rest
    archiver = options.get("archiver") or os.path.join(os.path.dirname(os.path.realpath(sys.argv[0])),
                                                       "dbops-wal-archive")
    # A full Python (site-packages: boto3) for the archiver.
    python = sys.executable or "python3"
    prefetch = int(options.get("prefetch", "0")) if options.get("prefetch", "0").isdigit() else 0
    spool = spool_of(destination) if prefetch > 0 and is_segment_name(name) else None
    if spool is not None and take_prefetched(spool, name, destination):
        if segments_ahead(spool, name) <= prefetch // 2:
            # Its size now: PostgreSQL may have consumed the file by the time the background copy starts.
            size = os.stat(destination).st_size
            _run_detached([python, archiver, "--config", options["config"], "prefetch", "--segment-size", str(size),
                           name, destination])
        return 0
    try:
        os.execv(python, [python, archiver, "--config", options["config"], "fetch", name, destination])
    except OSError as exc:
        sys.stderr.write(f"dbops-wal-fetch: cannot run {archiver}: {exc}\n")
    return 255  # restore_command: never "absent" when we could not even look
