"""Progress of work that goes through a database's collections document by document (a MongoDB dump, a MongoDB
restore's load), recorded in a progress file for progress_info: documents done of the total expected, which
collection, how many collections are done, and the bytes written where the work knows them.

The total is what the work knew before it began (estimatedDocumentCount for a dump, the dump's manifest for a
restore): a dump reads collections that change meanwhile, so the percent is approximate and rate.py never shows
100 before the record says done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TypeVar

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.timestamps import to_iso, utc_now
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.rate import amount
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.record import ProgressRecord
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.progress.throttle import ThrottledProgress

Item = TypeVar("Item")


class DocumentProgress:
    """One record (kind, name) in documents; every change goes through put(), which writes at most once a second
    except at a change of collection or phase."""

    def __init__(self, progress: ThrottledProgress, kind: str, name: str, *, total: int | None,
                 collections: int) -> None:
        self.progress = progress
        self.collections = collections
        self.finished_collections = 0
        self.collection = ""
        self.bytes_written: int | None = None
        self.done = 0
        now = to_iso(utc_now())
        self.record = ProgressRecord(kind=kind, name=name, unit="documents", done=0, total=total or None,
                                     started_at=now, updated_at=now, detail="starting")

    @property
    def enabled(self) -> bool:
        return self.progress.enabled

    def start_collection(self, collection: str) -> None:
        self.collection = collection
        self._put(force=True)

    def end_collection(self, bytes_written: int | None = None) -> None:
        self.finished_collections += 1
        if bytes_written is not None:
            self.bytes_written = (self.bytes_written or 0) + bytes_written
        self._put(force=True)

    def add(self, documents: int) -> None:
        self.done += documents
        if self.progress.due():  # per batch or per document: the record is built only when it is written
            self._put()

    def counted(self, items: Iterable[Item]) -> Iterator[Item]:
        """The items as they are, each counted as one document done."""
        for item in items:
            yield item
            self.add(1)

    def restart(self, detail: str) -> None:
        """The work begins again from its first document (a dump read again another way)."""
        self.done, self.finished_collections, self.bytes_written, self.collection = 0, 0, None, ""
        self._put(detail=detail, force=True)

    def phase(self, detail: str) -> None:
        """Past the documents (uploading, replaying changes, verifying): the phase replaces the collection."""
        self.collection = ""
        self._put(detail=detail, force=True)

    def finish(self, detail: str) -> None:
        self.record = replace(self.record, status="done")
        self._put(detail=detail, force=True)

    def _put(self, detail: str | None = None, force: bool = False) -> None:
        if not self.progress.enabled:
            return
        self.record = replace(self.record, done=self.done, updated_at=to_iso(utc_now()),
                              detail=detail if detail is not None else self._detail())
        self.progress.put(self.record, force=force)

    def _detail(self) -> str:
        parts = [f"{self.finished_collections} of {self.collections} collections"]
        if self.collection:
            parts.insert(0, self.collection)
        if self.bytes_written is not None:
            parts.append(f"{amount(self.bytes_written, 'bytes')} written")
        return ", ".join(parts)
