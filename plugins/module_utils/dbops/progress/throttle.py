"""A progress file written at most about once a second, however often the work reports.

Work that counts documents one batch at a time (a MongoDB dump or restore) reports after every batch; rewriting
the file each time would cost more than the poller reading it gains. A change of phase (force) is written at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.progress_file import ProgressFile
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord

MIN_INTERVAL_S = 1.0


class ThrottledProgress:
    """put() keeps the newest record of each key and writes the file when MIN_INTERVAL_S has passed (or force)."""

    def __init__(self, path: str | None, *, interval: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.file = ProgressFile(path)
        self.interval = interval
        self.clock = clock
        self.written_at: float | None = None
        self.writes = 0

    @property
    def enabled(self) -> bool:
        return bool(self.file.path)

    def due(self) -> bool:
        """Whether a put() now would be written (cheap: callers build their record only then)."""
        return self.enabled and (self.written_at is None or self.clock() - self.written_at >= self.interval)

    def put(self, record: ProgressRecord, *, force: bool = False, watch_dir: str | None = None) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and self.written_at is not None and now - self.written_at < self.interval:
            # Kept, not written: the next write (or the forced one at the end) carries it.
            self.file.records[record.key] = {**record.to_dict(), "watch_dir": watch_dir}
            return
        self.file.put(record, watch_dir=watch_dir)
        self.written_at = now
        self.writes += 1
