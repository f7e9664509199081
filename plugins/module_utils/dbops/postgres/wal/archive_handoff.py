"""archive_command with an uploader: hand the segment to it and exit 0 only once it is in the repository.

    archive_command = '<python3> -S <dbops-wal-push> --spool <dir> --wait <s> --grace <s> --config <file> %p %f'

The choice, and why: pgBackRest's asynchronous archive-push does not acknowledge a segment from a local copy either;
its foreground command waits for the background process's "ok" for that segment, and gets its speed from the
background process pushing the next ready segments in parallel. The same here:

- exit 0 only on the uploader's ok verdict for this very file (same name, and the file it read is this one:
  device, inode, size, mtime), i.e. once the segment is in the repository with its checksum. PostgreSQL recycles a
  segment only after that, so a lost disk, a crashed host or a killed uploader can never lose an acknowledged
  segment. A local spool copy acknowledged before the upload (the "spool on the same disk" design) would be as
  fast, but would hold the only copy of every segment not yet uploaded, on the disk whose loss the archive is
  there for, and would need a size limit and failure rules of its own; reading ahead in pg_wal needs neither.
- the speed comes from the uploader reading ahead: while PostgreSQL waits for segment N, N+1... are already being
  uploaded, so the following calls usually find their verdict at once. One call is then a Python start without
  site-packages (-S) that imports os, fcntl and the spool, checks a file and exits: milliseconds, not the second
  a Python with boto3 costs.
- an error verdict, or no verdict within --wait seconds: exit 1, PostgreSQL keeps the segment and calls again.
- no uploader holds the spool's lock (not started, crashed and not yet restarted by its supervisor) for --grace
  seconds: this command becomes the one-process archiver (exec of dbops-wal-archive push --direct) and uploads the
  segment itself. Archiving then runs at the old pace instead of stopping, and is never less safe.

Like the spool, this file imports only what the hand-off needs: no argparse, json, dataclasses or typing.
"""

from __future__ import annotations

import os
import sys
import time

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archive_spool import (
    Archived,
    ArchiveSpool,
    SourceIdentity,
)

POLL_SECONDS = 0.002
MAX_POLL_SECONDS = 0.05
EXIT_OK = 0
EXIT_FAILED = 1
ARCHIVED = "archived"
FAILED = "failed"
NO_UPLOADER = "no uploader"


def hand_off(spool: ArchiveSpool, source: str, name: str, *, wait_seconds: float,
             uploader_grace_seconds: float) -> tuple[str, str]:
    """(ARCHIVED, ""), (FAILED, message) or (NO_UPLOADER, ""): the caller then archives the segment itself."""
    identity = SourceIdentity.of(source)
    verdict = spool.verdict(name)
    if isinstance(verdict, Archived) and verdict.source == identity:
        spool.acknowledge(name)
        return ARCHIVED, ""
    spool.create()  # a few mkdir calls: the uploader may not have run yet
    spool.request(name, source)
    started = uploader_seen = time.monotonic()
    interval = POLL_SECONDS
    while True:
        verdict = spool.verdict(name)
        if isinstance(verdict, Archived):
            if verdict.source == identity:
                spool.acknowledge(name)
                return ARCHIVED, ""
            spool.request(name, source)  # a verdict on another file of that name (a stale one): ask again
        elif isinstance(verdict, str):
            spool.acknowledge(name)
            return FAILED, verdict
        now = time.monotonic()
        if spool.uploader_running():
            uploader_seen = now
        elif now - uploader_seen >= uploader_grace_seconds:
            spool.acknowledge(name)  # withdrawn: a restarted uploader need not repeat the caller's upload
            return NO_UPLOADER, ""
        if now - started >= wait_seconds:
            return FAILED, f"the uploader gave no verdict on {name} within {wait_seconds:.0f}s"
        time.sleep(interval)
        interval = min(interval * 2, MAX_POLL_SECONDS)


def _log(message: str) -> None:
    # stderr ends up in the PostgreSQL server log next to PostgreSQL's own "archive command failed" line.
    sys.stderr.write(f"dbops-wal-push: {message}\n")
    sys.stderr.flush()


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    rest: list[str] = []
    index = 0
    while index < len(argv):
        if argv[index] in ("--spool", "--wait", "--grace", "--config", "--archiver") and index + 1 < len(argv):
            options[argv[index][2:]] = argv[index + 1]
            index += 2
        else:
            rest.append(argv[index])
            index += 1
    return options, rest


def main(argv: list[str] | None = None) -> int:
    """archive_command: --spool <dir> --wait <s> --grace <s> --config <file> [--archiver <script>] <path> <name>."""
    options, rest = _options(sys.argv[1:] if argv is None else argv)
    if len(rest) != 2 or "spool" not in options or "config" not in options:
        _log("usage: dbops-wal-push --spool <dir> --wait <s> --grace <s> --config <file> <path> <name>")
        return EXIT_FAILED
    source, name = rest
    try:
        outcome, message = hand_off(ArchiveSpool(options["spool"]), source, name,
                                    wait_seconds=float(options.get("wait", "60")),
                                    uploader_grace_seconds=float(options.get("grace", "10")))
    except (OSError, ValueError) as exc:
        _log(f"handing {name} over failed: {exc}")
        return EXIT_FAILED
    if outcome == ARCHIVED:
        return EXIT_OK
    if outcome == FAILED:
        _log(message)
        return EXIT_FAILED
    archiver = options.get("archiver") or os.path.join(os.path.dirname(os.path.realpath(sys.argv[0])),
                                                       "dbops-wal-archive")
    _log(f"no uploader is running on {options['spool']}: archiving {name} directly")
    # A full Python (site-packages: boto3) for the one-process archiver; exec, so its exit code is ours.
    python = sys.executable or "python3"
    try:
        os.execv(python, [python, archiver, "--config", options["config"], "push", "--direct", source, name])
    except OSError as exc:
        _log(f"cannot run {archiver}: {exc}")
    return EXIT_FAILED
