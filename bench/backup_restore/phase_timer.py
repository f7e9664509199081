"""Where sevenp.dbops spends its backup and restore time: wall-clock per engine step, measured by wrapping the
engine's functions for the duration of a run (nested steps are included in their parents)."""

from __future__ import annotations

import functools
import importlib
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENGINE = "ansible_collections.sevenp.dbops.plugins.module_utils.dbops."
# (module, attribute path, label); ClusterOwner.run is labelled by the program it runs.
STEPS = [
    ("postgres.server.cluster_owner", "ClusterOwner.run", None),
    ("postgres.backup.tar_archive", "extract", "extract tar (zstd -d | tar -x)"),
    ("postgres.backup.tar_archive", "compress_file", "compress pg_wal.tar"),
    ("postgres.backup.base_backup", "verify_backup", "verify backup (streamed manifest check + pg_waldump)"),
    ("repository.local", "LocalRepository.put_file", "repository put_file (sha256 + copy + fsync)"),
    ("repository.local", "LocalRepository.get_file", "repository get_file (copy + sha256 check)"),
    ("jobs.backup", "wal_health", "WAL chain + archiver check"),
    ("postgres.restore.pitr_restore", "PgRestore.plan", "plan (target, backup, WAL chain)"),
    ("postgres.restore.pitr_restore", "PgRestore._fetch", "fetch backup objects to staging"),
    ("postgres.restore.pitr_restore", "PgRestore._lay_down", "extract + pg_verifybackup"),
    ("postgres.restore.pitr_restore", "PgRestore._configure", "recovery settings"),
    ("postgres.restore.pitr_restore", "PgRestore._swap", "stop + swap data directories"),
    ("postgres.restore.pitr_restore", "PgRestore._wait_promoted", "start -> promoted (WAL replay)"),
    ("postgres.restore.pitr_restore", "PgRestore._verify", "post-promotion verification"),
]


class PhaseTimes:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def rows(self) -> list[tuple[str, int, float]]:
        return sorted(((label, self.calls[label], secs) for label, secs in self.seconds.items()),
                      key=lambda row: -row[2])

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def _label_for_run(argv, kwargs) -> str:
    what = kwargs.get("what")
    return f"run {what or Path(str(argv[0])).name}"


@contextmanager
def timing(times: PhaseTimes) -> Iterator[PhaseTimes]:
    restore: list[tuple[object, str, object]] = []
    for module_name, path, label in STEPS:
        try:
            module = importlib.import_module(ENGINE + module_name)
        except ImportError:
            continue
        owner = module
        *parents, attr = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        original = getattr(owner, attr, None) if owner is not None else None
        if original is None:
            continue

        def wrap(func, fixed_label):
            @functools.wraps(func)
            def timed(*args, **kwargs):
                name = fixed_label or _label_for_run(args[1] if len(args) > 1 else kwargs.get("argv", ["?"]), kwargs)
                started = time.monotonic()
                try:
                    return func(*args, **kwargs)
                finally:
                    times.seconds[name] += time.monotonic() - started
                    times.calls[name] += 1
            return timed

        setattr(owner, attr, wrap(original, label))
        restore.append((owner, attr, original))
    try:
        yield times
    finally:
        for owner, attr, original in reversed(restore):
            setattr(owner, attr, original)
