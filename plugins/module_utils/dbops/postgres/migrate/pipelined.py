"""Pipelining a part's queries: what a set sends goes out in as few round trips as its work allows.

Inside pipelined(conn) the queries sent on conn are queued (libpq's pipeline mode) and go out together at the next
flush or when the block ends; a result asked for (fetchone...) flushes what is queued before it. Hundreds of small
sets notice every round trip: BEGIN travels with a set's first statement, the ledger rows with the COMMIT. An error
is raised at the flush that carries the failed query, and the server skips what was queued after it until then
(so a COMMIT queued behind a failed write never runs).

Without pipeline support (libpq older than 14) every query runs when it is sent and a flush does nothing: the same
code path, only more round trips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import (
    psycopg,  # the one guarded import of the driver
)

Flush = Callable[[], None]


def _nothing_queued() -> None:
    """The flush without a pipeline: every query already ran when it was sent."""


@contextmanager
def pipelined(conn: Any) -> Iterator[Flush]:
    """Queue conn's queries until the flush this yields (or the block's end), which waits for their results."""
    if not psycopg.Pipeline.is_supported():
        yield _nothing_queued
        return
    with conn.pipeline() as pipeline:
        yield pipeline.sync
