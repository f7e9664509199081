"""Start or remove the scenario's throwaway PostgreSQL cluster (tests/support/pg_cluster.py), state in a JSON file.

    cluster.py start STATE_FILE   new cluster on a free port; prints and saves {"base_dir", "port", "dsn"}
    cluster.py stop STATE_FILE    stops and deletes the cluster named in the state file, if any
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.pg_cluster import PgCluster, new_cluster  # noqa: E402


def start(state_file: Path) -> None:
    cluster = new_cluster(prefix="dbops-molecule-")
    state = {"base_dir": str(cluster.base_dir), "port": cluster.port, "dsn": cluster.dsn()}
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state))
    print(json.dumps(state))


def stop(state_file: Path) -> None:
    if not state_file.exists():
        print(json.dumps({"changed": False}))
        return
    state = json.loads(state_file.read_text())
    PgCluster(base_dir=Path(state["base_dir"]), port=int(state["port"])).destroy()
    state_file.unlink()
    print(json.dumps({"changed": True}))


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1]](Path(sys.argv[2]))
