"""A test hook, for the crash tests only: DBOPS_CUTOVER_CRASH_AT=<step name> makes the switch end its process
like kill -9 (os._exit(137): no cleanup, no finally blocks, connections dropped) right after it has recorded that
step's intent on both sides. The tests use it to check, at every step, that at most one side is writable and that a
rerun completes or undoes the switch. Never set it in production.
"""

from __future__ import annotations

import os

CRASH_AT_VARIABLE = "DBOPS_CUTOVER_CRASH_AT"
CRASH_EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def crash_if_asked(step: str) -> None:
    if os.environ.get(CRASH_AT_VARIABLE) == step:
        os._exit(CRASH_EXIT_CODE)
