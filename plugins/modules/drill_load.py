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
attributes:
  check_mode:
    description: In check mode nothing is written and nothing is waited for; the module says what it would do.
    support: full
  diff_mode:
    description: Not applicable.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
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
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
)

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import (
        LoadSpec,
        WriteLoad,
        read_status,
        require_drivers,
        wait_for_writes,
        wait_stopped,
    )
except ImportError:
    ENGINE_IMPORT_ERROR = traceback.format_exc()

    class DbopsError(Exception):  # stands in for the engine's error class when it cannot be imported
        """Never raised: the module fails before calling the engine."""
else:
    ENGINE_IMPORT_ERROR = None


def argument_spec() -> dict:
    spec = connection_argument_spec(env_fallback)
    spec.update(
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
    )
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_by={"mongodb_uri": "mongodb_database"})
    module.no_log_values.update(connection_secrets(module.params))
    if ENGINE_IMPORT_ERROR:
        module.fail_json(msg="the sevenp.dbops engine (module_utils) could not be imported",
                         exception=ENGINE_IMPORT_ERROR)
    params = module.params
    spec = LoadSpec(run_id=params["run_id"], work_dir=params["work_dir"], postgres_dsn=params["postgres_dsn"],
                    mongodb_uri=params["mongodb_uri"], mongodb_database=params["mongodb_database"],
                    table=params["table"], collection=params["collection"], interval_s=params["interval"],
                    max_seconds=params["max_seconds"], max_writes=params["max_writes"])
    ack_log = str(spec.ack_log)
    try:
        if params["state"] == "running":
            require_drivers(spec)
            if module.check_mode:
                module.exit_json(changed=True, at=time.time(), summary={}, ack_log=ack_log,
                                 msg="would run the write load")
            summary = WriteLoad(spec).run()
            module.exit_json(changed=True, at=time.time(), summary=summary.as_dict(), ack_log=ack_log)
        elif params["state"] == "waited":
            if module.check_mode:
                module.exit_json(changed=False, at=time.time(), counts={}, ack_log=ack_log,
                                 msg="would wait for acknowledged writes")
            require_drivers(spec)
            counts = wait_for_writes(spec, params["writes"], since=params["since"], timeout_s=params["timeout"])
            module.exit_json(changed=False, at=time.time(), counts=counts, ack_log=ack_log)
        else:
            already = read_status(spec)
            if module.check_mode:
                module.exit_json(changed=already is None, at=time.time(), summary=already or {}, ack_log=ack_log)
            summary = wait_stopped(spec, timeout_s=params["timeout"])
            module.exit_json(changed=already is None, at=time.time(), summary=summary, ack_log=ack_log)
    except DbopsError as exc:
        module.fail_json(msg=str(exc), ack_log=ack_log)
    except Exception as exc:  # a bug, not a drill problem: one message, the traceback for -vvv
        module.fail_json(msg=f"unexpected {type(exc).__name__} in the drill's write load: {exc}",
                         exception=traceback.format_exc(), ack_log=ack_log)


if __name__ == "__main__":
    main()
