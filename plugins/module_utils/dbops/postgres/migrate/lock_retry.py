"""Retrying work that gave up waiting for a lock (lock_timeout), with exponential backoff and jitter.

A migration that waits for an ACCESS EXCLUSIVE lock behind a long transaction makes every later query on that
table queue behind it. With a short lock_timeout the migration gives up instead, lets the queue drain, and
tries again a little later.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

try:
    from psycopg import errors as pg_errors
except ImportError:  # pragma: no cover
    pg_errors = None  # type: ignore[assignment]

T = TypeVar("T")

BASE_DELAY_S = 0.2
MAX_DELAY_S = 10.0


def is_lock_failure(exc: BaseException) -> bool:
    """lock_timeout expired (55P03) or deadlock detected (40P01): worth another try."""
    if pg_errors is None or exc is None:
        return False
    if isinstance(exc, (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected)):
        return True
    # The engine wraps database errors to say which statement failed; the cause is what counts.
    return isinstance(exc.__cause__, (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected))


def backoff_delay(attempt: int, base_s: float = BASE_DELAY_S, max_s: float = MAX_DELAY_S) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with +-25% jitter."""
    delay = min(max_s, base_s * (2 ** (attempt - 1)))
    return delay * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not cryptography


def with_lock_retry(work: Callable[[int], T], *, retries: int, on_retry: Callable[[int, BaseException, float], None]
                    | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run work(attempt); on a lock failure undo nothing here (work owns its transaction), wait, retry.

    Raises the last lock failure once `retries` retries are used up.
    """
    attempt = 1
    while True:
        try:
            return work(attempt)
        except Exception as exc:
            if not is_lock_failure(exc) or attempt > retries:
                raise
            delay = backoff_delay(attempt)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            attempt += 1
