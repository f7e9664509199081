"""Progress records kept in a JSON file by work that has no database table to keep them in (a restore, whose
server is down while it works), for progress_info to read on the same host.

The file is rewritten whole and renamed into place, so a reader never sees half of it. A record may name a
directory (`watch_dir`) whose files' total size is its `done` at the moment it is read: a download's temporary
files grow there between two writes of the record.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord


class ProgressFile:
    """The records of one run; put() replaces the record of the same key and rewrites the file."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.records: dict[str, dict] = {}

    def put(self, record: ProgressRecord, watch_dir: str | None = None) -> None:
        if not self.path:
            return  # nobody asked for progress
        self.records[record.key] = {**record.to_dict(), "watch_dir": watch_dir}
        target = Path(self.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".progress-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(list(self.records.values()), stream)
            os.replace(temporary, target)
        except OSError:
            pass  # progress is a courtesy: a full or read-only disk must not fail the work itself


def directory_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # renamed or removed meanwhile
    return total


def read_progress_file(path: str) -> list[ProgressRecord]:
    """The records in the file (none when it does not exist yet), each watched directory measured now."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    records = []
    for entry in entries if isinstance(entries, list) else []:
        record = ProgressRecord.from_dict(entry)
        watch = entry.get("watch_dir")
        if watch and os.path.isdir(watch):
            measured = directory_size(watch)
            record = replace(record, done=min(measured, record.total) if record.total else measured)
        records.append(record)
    return records
