"""Run the migration engine in a separate process, so tests can kill it (kill -9) at chosen points.

    python tests/support/engine_runner.py '<RunRequest fields as JSON>' [--mongo-lock-ttl S]
                                          [--die-before-part mongodb|postgres]

Prints the RunResult as JSON on success; exits 1 with the error on stderr otherwise.
--die-before-part makes the process SIGKILL itself when the coordinator is about to apply that part (a crash
between the parts of a set).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT))

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError  # noqa: E402
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("request")
    parser.add_argument("--mongo-lock-ttl", type=float)
    parser.add_argument("--die-before-part", choices=["mongodb", "postgres"])
    args = parser.parse_args()
    request = engine.RunRequest(**json.loads(args.request))
    executors = engine.build_executors(request)
    if args.mongo_lock_ttl and "mongodb" in executors:
        executors["mongodb"].lock_ttl_s = args.mongo_lock_ttl
    if args.die_before_part:
        victim = executors[args.die_before_part]

        def die(*_args, **_kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        victim.apply = die
    try:
        result = engine.run(request, executors=executors)
    except DbopsError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
