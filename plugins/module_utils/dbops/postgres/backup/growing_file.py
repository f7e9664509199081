"""Reading a file while another program is still writing it, to its true end.

pg_basebackup writes each tar of a backup front to back (never seeking, never truncating), so the bytes already in
the file are final and can be read while the rest arrives. A read that finds no new bytes waits for more, until
the writer is known to be done: only a read started after that moment and returning nothing is the end of the file.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

POLL_SECONDS = 0.01


class GrowingFile:
    """path as its writer writes it; writer_done is set once the writer has exited (successfully or not)."""

    def __init__(self, path: Path, writer_done: threading.Event) -> None:
        self.path = path
        self.writer_done = writer_done
        self._handle: io.FileIO | None = None

    def _open(self) -> io.FileIO:
        while self._handle is None:
            finished = self.writer_done.is_set()
            try:
                self._handle = self.path.open("rb", buffering=0)  # pylint: disable=consider-using-with
            except FileNotFoundError as exc:
                if finished:
                    raise DbopsError(f"{self.path.name} was not written") from exc
                self.writer_done.wait(POLL_SECONDS)
        return self._handle

    def readinto(self, buffer: memoryview) -> int:
        handle = self._open()
        while True:
            # Sampled before the read: everything written before the writer finished is then in the file.
            finished = self.writer_done.is_set()
            got = handle.readinto(buffer) or 0
            if got or finished:
                return got
            self.writer_done.wait(POLL_SECONDS)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
