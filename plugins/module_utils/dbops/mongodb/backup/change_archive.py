"""The change archive in a repository: chunks of oplog entries after a dump, and how far they reach.

Layout (one "stream" per captured database; tag = short hash of the database name, since names may hold characters
keys and catalog ids must not):

    mongodb/changes/<tag>/<start>-<end>.bson.gz   concatenated BSON oplog entries (mongod's format), gzip;
                                                  every entry has start < ts <= end, in ts order
    catalog/archive/mongodb/<tag>-<start>-<end>.json  the catalog's ArchiveRange for the chunk, written AFTER the
                                                  chunk: it is the commit mark; a chunk without it does not exist
    mongodb/changes/<tag>/checkpoints/<covered_until>-<ns>.json
                                                  {"covered_until", "chain_end", ...}: the capture had seen every
                                                  change up to covered_until when the newest chunk ended at chain_end;
                                                  the newest (highest name) counts, older ones are pruned

<start>/<end> are positions ("<seconds:010d>.<increment:010d>"). A chunk covers the interval (start, end]: end may be
later than its last entry (an idle server), and the next chunk starts exactly where the previous one ended, so gaps
are visible as a chunk whose start is after the previous end. The chunk files are valid mongorestore --oplogFile
input once gunzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import RepositoryError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.backup.gzip_bson import gzip_documents
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import (
    DOC_CODEC,
    bson,
    require_driver,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.oplog.timepoint import (
    iso,
    parse_iso,
    parse_position,
    position,
    ts_text,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import ObjectMissing, Repository
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.catalog import ArchiveRange, Catalog

ENGINE = "mongodb"
CHANGES_PREFIX = "mongodb/changes/"


def stream_tag(database: str) -> str:
    return "db" + hashlib.sha256(database.encode()).hexdigest()[:10]


def chunk_key(tag: str, start, end) -> str:
    return f"{CHANGES_PREFIX}{tag}/{position(start)}-{position(end)}.bson.gz"


def range_id(tag: str, start, end) -> str:
    return f"{tag}-{position(start)}-{position(end)}"


def checkpoint_prefix(tag: str) -> str:
    return f"{CHANGES_PREFIX}{tag}/checkpoints/"


CHECKPOINTS_KEPT = 3


@dataclass
class Chunk:
    range_id: str
    key: str
    start: Any  # exclusive
    end: Any  # inclusive
    count: int
    end_wall: Any = None  # server wall clock at end (datetime)
    first_ts: Any = None
    last_ts: Any = None
    resume_token: Any = None  # change stream mode: the token after the last entry
    mode: str = "oplog"

    @classmethod
    def from_range(cls, archive_range: ArchiveRange) -> Chunk:
        details = archive_range.details
        return cls(
            range_id=archive_range.range_id, key=archive_range.keys[0],
            start=parse_position(archive_range.start), end=parse_position(archive_range.end),
            count=int(details.get("count", 0)),
            end_wall=parse_iso(archive_range.end_time) if archive_range.end_time else None,
            first_ts=parse_position(details["first_ts"]) if details.get("first_ts") else None,
            last_ts=parse_position(details["last_ts"]) if details.get("last_ts") else None,
            resume_token=_token_from_json(details.get("resume_token")),
            mode=details.get("mode", "oplog"),
        )


def _token_to_json(token: Any) -> Any:
    if token is None:
        return None
    return json.loads(bson.json_util.dumps(token, json_options=bson.json_util.CANONICAL_JSON_OPTIONS))


def _token_from_json(data: Any) -> Any:
    if data is None:
        return None
    return bson.json_util.loads(json.dumps(data))


def encode_chunk(entries_raw: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    # mtime=0: the same entries always give the same bytes (and sha256), so a rewritten chunk is recognisable
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as handle:
        for raw in entries_raw:
            handle.write(raw)
    return buffer.getvalue()


def decode_entries(data: bytes) -> Iterator[dict[str, Any]]:
    require_driver()
    with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as handle:
        yield from gzip_documents(handle, DOC_CODEC)


def write_chunk(repo: Repository, database: str, start, end, entries_raw: list[bytes], *, first_ts, last_ts,
                start_wall, end_wall, mode: str, resume_token: Any = None) -> Chunk:
    """Store a chunk, then its catalog entry (the commit mark). Rewriting the same chunk is harmless."""
    tag = stream_tag(database)
    key = chunk_key(tag, start, end)
    info = repo.put_bytes(key, encode_chunk(entries_raw))
    archive_range = ArchiveRange(
        engine=ENGINE, range_id=range_id(tag, start, end), start=position(start), end=position(end),
        start_time=iso(start_wall), end_time=iso(end_wall), keys=[key],
        details={
            "database": database, "stream": tag, "count": len(entries_raw), "mode": mode,
            "first_ts": position(first_ts) if first_ts is not None else None,
            "last_ts": position(last_ts) if last_ts is not None else None,
            "size": info.size, "sha256": info.sha256, "resume_token": _token_to_json(resume_token),
            "interval": "start exclusive, end inclusive",
        },
    )
    Catalog(repo).add_archive_range(archive_range)
    return Chunk.from_range(archive_range)


def list_chunks(repo: Repository, database: str) -> list[Chunk]:
    """The database's committed chunks, ordered by start then end."""
    tag = stream_tag(database)
    chunks = [Chunk.from_range(r) for r in Catalog(repo).archive_ranges(ENGINE)
              if r.details.get("stream") == tag]
    chunks.sort(key=lambda c: (c.start, c.end))
    return chunks


def read_chunk(repo: Repository, chunk: Chunk) -> list[dict[str, Any]]:
    try:
        data = repo.get_bytes(chunk.key)
    except ObjectMissing as exc:
        raise RepositoryError(f"change archive chunk {chunk.key} is in the catalog but missing from "
                              f"{repo.describe()}") from exc
    try:
        return list(decode_entries(data))
    except (OSError, EOFError, bson.errors.InvalidBSON) as exc:
        raise RepositoryError(f"change archive chunk {chunk.key} in {repo.describe()} is unreadable: {exc}") from exc


@dataclass
class Checkpoint:
    database: str
    covered_until: Any  # Timestamp: every change up to here is archived
    covered_wall: Any  # datetime: the server's wall clock at covered_until
    chain_end: Any  # end of the newest chunk when this was written
    mode: str = "oplog"
    updated_at: str | None = None
    writer: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "database": self.database, "covered_until": position(self.covered_until),
            "covered_wall": iso(self.covered_wall), "chain_end": position(self.chain_end) if self.chain_end else None,
            "mode": self.mode, "updated_at": self.updated_at, "writer": self.writer,
        }, indent=2, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        raw = json.loads(data)
        return cls(
            database=raw["database"], covered_until=parse_position(raw["covered_until"]),
            covered_wall=parse_iso(raw["covered_wall"]) if raw.get("covered_wall") else None,
            chain_end=parse_position(raw["chain_end"]) if raw.get("chain_end") else None,
            mode=raw.get("mode", "oplog"), updated_at=raw.get("updated_at"), writer=raw.get("writer") or {},
        )


def write_checkpoint(repo: Repository, checkpoint: Checkpoint) -> None:
    """Store a checkpoint under a new key, then prune all but the newest few.

    Never rewriting a key in place matters: a local repository renames the data before its checksum sidecar, so a
    process killed between the two, or a reader in between, would find an old checksum on new data. A new key that
    lacks its sidecar simply does not exist yet, and the previous checkpoint still counts.
    """
    prefix = checkpoint_prefix(stream_tag(checkpoint.database))
    key = f"{prefix}{position(checkpoint.covered_until)}-{time.time_ns():020d}.json"
    repo.put_bytes(key, checkpoint.to_bytes())
    keys = sorted(info.key for info in repo.list(prefix) if info.key.endswith(".json"))
    for old in keys[:-CHECKPOINTS_KEPT]:
        if old < key:
            repo.delete(old)


def read_checkpoint(repo: Repository, database: str) -> Checkpoint | None:
    """The newest checkpoint of database's archive, or None before any capture ran."""
    prefix = checkpoint_prefix(stream_tag(database))
    for _attempt in range(5):
        keys = sorted(info.key for info in repo.list(prefix) if info.key.endswith(".json"))
        if not keys:
            return None
        try:
            return Checkpoint.from_bytes(repo.get_bytes(keys[-1]))
        except ObjectMissing:
            continue  # pruned by the capture between listing and reading: list again
        except (ValueError, KeyError) as exc:
            raise RepositoryError(f"capture checkpoint {keys[-1]} in {repo.describe()} is unreadable: {exc}") from exc
    raise RepositoryError(f"the capture checkpoints of {database} in {repo.describe()} keep changing while read")


@dataclass
class Coverage:
    """What the archive can replay from a starting point: chunks (begin, end] with no gap, up to end/end_wall."""

    begin: Any
    end: Any
    end_wall: Any
    chunks: list[Chunk]
    gap_after: Any = None  # where the chain breaks, when a later chunk exists after a gap

    def describe(self) -> str:
        text = f"changes archived from {ts_text(self.begin)} to {ts_text(self.end)}"
        if self.end_wall is not None:
            text += f" ({iso(self.end_wall)})"
        return text


def coverage_from(chunks: list[Chunk], begin, checkpoint: Checkpoint | None, begin_wall=None) -> Coverage:
    """The gap-free run of chunks that starts at or before begin, and how far it reaches."""
    cursor, cursor_wall, chain = begin, begin_wall, []
    gap = None
    for chunk in chunks:
        if chunk.end <= cursor:
            continue
        if chunk.start > cursor:
            gap = cursor
            break
        chain.append(chunk)
        cursor, cursor_wall = chunk.end, chunk.end_wall
    if gap is None and checkpoint is not None and checkpoint.covered_until > cursor:
        # The checkpoint extends the chain only if it was written when the chain ended where ours ends (an idle
        # capture that saw nothing new), or when there is no chunk yet and it starts at or before begin.
        anchor = checkpoint.chain_end
        if (anchor is not None and anchor == cursor) or (not chain and anchor is not None and anchor <= begin):
            cursor, cursor_wall = checkpoint.covered_until, checkpoint.covered_wall
    return Coverage(begin=begin, end=cursor, end_wall=cursor_wall, chunks=chain, gap_after=gap)
