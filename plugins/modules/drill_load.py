#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_load
short_description: Bounded write load with recorded commit acknowledgements, for disaster-recovery drills
version_added: 0.1.0
description:
  - With O(state=running), inserts numbered rows into a PostgreSQL table and numbered documents into a MongoDB
    collection, one write per commit, and appends every acknowledged commit to C(acks.jsonl) in O(work_dir) with
    what places it in the database's own order (the WAL positions around the PostgreSQL commit, the oplog
    timestamp of the MongoDB insert). It runs until O(state=stopped) is requested, O(max_seconds) pass or
    O(max_writes) writes per database are done. Run it with C(async) and C(poll=0).
  - With O(state=waited), waits until each database has O(writes) acknowledged writes at or after O(since).
  - With O(state=stopped), asks the running load to stop and returns its summary.
  - Rows and documents carry O(run_id), so drills can be repeated on the same databases.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: In check mode nothing is written and nothing is waited for; the module says what it would do.
    support: full
  diff_mode:
    support: none
options:
  state:
    description:
      - V(running) runs the load (until stopped or a bound is reached), V(waited) waits for acknowledged writes,
        V(stopped) stops the load.
    type: str
    choices: [running, waited, stopped]
    default: running
  run_id:
    description: Identifier of this drill run, stored with every row and document.
    type: str
    required: true
  work_dir:
    description: Directory on the module's host for the acknowledgement log, the stop request and the status.
    type: path
    required: true
  table:
    description: PostgreSQL table the load inserts into (created when missing), optionally schema-qualified.
    type: str
    default: dbops_drill_writes
  collection:
    description: MongoDB collection the load inserts into.
    type: str
    default: dbops_drill_writes
  interval:
    description: Seconds each writer pauses between two writes.
    type: float
    default: 0.01
  max_seconds:
    description: The load stops by itself after this many seconds.
    type: float
    default: 300
  max_writes:
    description: The load stops by itself after this many writes per database.
    type: int
    default: 100000
  writes:
    description: With O(state=waited), acknowledged writes to wait for, per database.
    type: int
    default: 50
  since:
    description: With O(state=waited), count only writes acknowledged at or after this time (seconds since the epoch).
    type: float
    default: 0
  timeout:
    description: With O(state=waited) or O(state=stopped), seconds to wait before failing.
    type: float
    default: 120
"""

EXAMPLES = r"""
- name: Start the write load in the background
  sevenp.dbops.drill_load:
    run_id: drill-1
    work_dir: /var/tmp/dbops-drill/drill-1
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
  async: 600
  poll: 0
  register: drill_load_job

- name: Wait for 100 acknowledged writes on each database
  sevenp.dbops.drill_load:
    state: waited
    run_id: drill-1
    work_dir: /var/tmp/dbops-drill/drill-1
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    writes: 100

- name: Stop it
  sevenp.dbops.drill_load:
    state: stopped
    run_id: drill-1
    work_dir: /var/tmp/dbops-drill/drill-1
"""

RETURN = r"""
queries:
  description: Always empty (this module runs no statement of its own); every sevenp.dbops module returns it.
  returned: always
  type: list
  elements: str
summary:
  description:
    - With O(state=running) or O(state=stopped), what the load did (per writer, acknowledged and failed writes).
  returned: when state is running or stopped
  type: dict
counts:
  description: With O(state=waited), acknowledged writes per database since O(since).
  returned: when state is waited
  type: dict
  sample: {"postgres": 120, "mongodb": 118}
at:
  description: Time (seconds since the epoch) the module finished.
  returned: always
  type: float
ack_log:
  description: Path of the acknowledgement log.
  returned: always
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import (
        LoadSpec,
        WriteLoad,
        read_status,
        require_drivers,
        wait_for_writes,
        wait_stopped,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        state={"type": "str", "default": "running", "choices": ["running", "waited", "stopped"]},
        run_id={"type": "str", "required": True},
        work_dir={"type": "path", "required": True},
        table={"type": "str", "default": "dbops_drill_writes"},
        collection={"type": "str", "default": "dbops_drill_writes"},
        interval={"type": "float", "default": 0.01},
        max_seconds={"type": "float", "default": 300},
        max_writes={"type": "int", "default": 100000},
        writes={"type": "int", "default": 50},
        since={"type": "float", "default": 0},
        timeout={"type": "float", "default": 120},
    ))


def build_spec(params: dict, _check_mode: bool) -> LoadSpec:
    return LoadSpec(run_id=params["run_id"], work_dir=params["work_dir"],
                    databases=DatabaseConnections.from_options(params), table=params["table"],
                    collection=params["collection"], interval_s=params["interval"],
                    max_seconds=params["max_seconds"], max_writes=params["max_writes"])


def load_action(spec: LoadSpec, params: dict, check_mode: bool) -> dict:
    """What O(state) asks of the load, as return values (without the time and the log's path)."""
    if params["state"] == "running":
        require_drivers(spec)
        if check_mode:
            return {"changed": True, "summary": {}, "msg": "would run the write load"}
        return {"changed": True, "summary": WriteLoad(spec).run().as_dict()}
    if params["state"] == "waited":
        if check_mode:
            return {"changed": False, "counts": {}, "msg": "would wait for acknowledged writes"}
        require_drivers(spec)
        return {"changed": False,
                "counts": wait_for_writes(spec, params["writes"], since=params["since"], timeout_s=params["timeout"])}
    already = read_status(spec)
    summary = (already or {}) if check_mode else wait_stopped(spec, timeout_s=params["timeout"])
    return {"changed": already is None, "summary": summary}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_by={"mongodb_uri": "mongodb_database"})
    params = module.params

    def ack_log() -> str:
        return str(LoadSpec(run_id=params["run_id"], work_dir=params["work_dir"]).ack_log)

    module_runner.run_module(
        module, engine="the drill's write load", engine_import=ENGINE, build=build_spec,
        run=lambda spec: load_action(spec, params, module.check_mode),
        result=lambda values: {**values, "at": time.time(), "ack_log": ack_log()},
        failure_details=lambda _exc: {"ack_log": ack_log()})


if __name__ == "__main__":
    main()
