"""Whether a process on this host is alive, as kill(pid, 0) tells it (a process we may not signal is alive)."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
