"""Run the read-only engine in a separate process, so tests can kill it (kill -9) at chosen points.

    python read_only_runner.py '<ReadOnlyRequest fields as JSON>' [--die-at before-change|after-grants|before-mongodb]

before-change: after the state file records the plan, before anything changes on PostgreSQL. after-grants: once the
role settings and revokes committed, before ALTER SYSTEM. before-mongodb: PostgreSQL engaged, MongoDB not yet.
Prints the result as JSON on success; exits 1 with the error on stderr otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT))

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError  # noqa: E402
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs import read_only  # noqa: E402
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (  # noqa: E402
    DatabaseConnections,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.read_only import statements  # noqa: E402

VICTIMS = {
    "before-change": (read_only.pg_engage, "enable"),
    "after-grants": (statements, "set_system"),
    "before-mongodb": (read_only.mongo_read_only, "enable"),
}


def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("request")
    parser.add_argument("--die-at", choices=sorted(VICTIMS))
    args = parser.parse_args()
    fields = json.loads(args.request)
    fields["databases"] = DatabaseConnections(**fields["databases"])
    fields["exempt_roles"] = tuple(fields.get("exempt_roles", ()))
    if args.die_at:
        owner, name = VICTIMS[args.die_at]
        setattr(owner, name, die)
    try:
        result = read_only.run_read_only(read_only.ReadOnlyRequest(**fields))
    except DbopsError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(asdict(result), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
