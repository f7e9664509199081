#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: replication_sync
short_description: Wait until a replica has caught up with a position on its source
version_added: 0.1.0
description:
  - "Polls a replica's position until it has reached a position on its source, then reports the lag. Three kinds:
    a PostgreSQL physical standby (O(kind=physical): its C(replay_lsn) in the primary's C(pg_stat_replication),
    found by the standby's C(application_name)); a logical subscriber (O(kind=logical): the
    C(confirmed_flush_lsn) of its slot in the publisher's C(pg_replication_slots)); a MongoDB copy kept by this
    collection (O(kind=mongodb): the applied cluster time in the state document C(dbops.replication_state) on
    green, against the source's newest cluster time from C(hello))."
  - "PostgreSQL is read on the source (O(postgres_dsn): the primary or the publisher). Lag in bytes is
    C(pg_wal_lsn_diff) between the source's current WAL position and the replica's; lag in seconds is the
    walsender's C(replay_lag), 0 when the replica has replayed all that was sent and no lag is measured any more."
  - "What caught up means: with O(target_lsn) (or O(target_time) for MongoDB) the replica's position is at or past
    it; else, with O(max_lag_bytes) and/or O(max_lag_seconds), the lag is within them; else the replica has
    reached the source's newest position read when the wait began."
  - "An idle source keeps writing WAL (checkpoints, heartbeats), so its replicas' lag rarely reads 0 bytes: for a
    cutover, take the source's position after writes are fenced and wait for that with O(target_lsn)."
  - The module only reads; it never changes anything, so RV(changed) is always false.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Reads the lag once and returns it; waits for nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: The module only reads.
    support: full
options:
  kind:
    description:
      - V(physical) for a streaming standby, V(logical) for a logical replication subscriber, V(mongodb) for a
        MongoDB copy kept by this collection.
    type: str
    required: true
    choices: [physical, logical, mongodb]
  replica_name:
    description:
      - V(physical) the standby's C(application_name) in C(pg_stat_replication) (its C(primary_conninfo) or
        C(cluster_name)); V(logical) the subscription's slot name (by default the subscription's name).
      - Required for V(physical) and V(logical).
    type: str
  copy_uri:
    description:
      - V(mongodb) the URI of green, the MongoDB deployment the copy writes to and keeps its state in.
      - O(mongodb_uri) is the source and O(mongodb_database) the source database the copy follows.
    type: str
  target_lsn:
    description:
      - PostgreSQL; wait until the replica's position is at or past this LSN (like V(0/3000060)), typically
        C(pg_current_wal_lsn()) read on the source after writes are fenced.
    type: str
  target_time:
    description:
      - MongoDB; wait until the copy has applied the source's changes up to this cluster time, written
        V(<seconds>:<increment>) (as RV(source_position) reports it).
    type: str
  max_lag_bytes:
    description:
      - PostgreSQL; caught up once the lag is at most this many bytes of WAL. Ignored with O(target_lsn).
    type: int
  max_lag_seconds:
    description:
      - Caught up once the lag is at most this many seconds (an unknown lag never is). Ignored with a target.
    type: float
  timeout:
    description:
      - Seconds to wait; the module fails when the replica has not caught up by then, with the last lag read.
    type: float
    default: 300
  poll_interval:
    description: Seconds between two readings.
    type: float
    default: 0.5
  progress_interval:
    description:
      - Handled on the controller by the collection's action plugin, never sent to the host - seconds between two
        progress lines while a logical subscriber catches up (O(kind=logical)) - each logical slot on the source
        with the bytes it is behind, the rate that shrinks at and an ETA. With a value above 0 (and not in check
        mode, and without the task's own C(async)) the module runs as an asynchronous job polled by the action
        plugin. V(0) runs the module as one plain execution.
    type: float
    default: 0
seealso:
  - module: sevenp.dbops.pgbouncer_switch
  - module: sevenp.dbops.haproxy_switch
"""

EXAMPLES = r"""
- name: Read the publisher's position after the fence
  community.postgresql.postgresql_query:
    login_dsn: "{{ dbops_postgres_dsn }}"
    query: SELECT pg_current_wal_lsn()::text AS lsn
  register: fenced

- name: Wait until the green subscriber has everything written before the fence
  sevenp.dbops.replication_sync:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    kind: logical
    replica_name: green_sub
    target_lsn: "{{ fenced.query_result[0].lsn }}"
    timeout: 120

- name: Wait until a standby is within 1 MiB and 5 seconds
  sevenp.dbops.replication_sync:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    kind: physical
    replica_name: standby1
    max_lag_bytes: 1048576
    max_lag_seconds: 5

- name: Wait until the MongoDB copy on green has applied the source's newest write
  sevenp.dbops.replication_sync:
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    kind: mongodb
    copy_uri: "{{ dbops_green_mongodb_uri }}"
"""

RETURN = r"""
queries:
  description: The statements and commands of one reading (later readings repeat them).
  returned: always
  type: list
  elements: str
changed:
  description: Always false; the module only reads.
  returned: always
  type: bool
caught_up:
  description: Whether the replica has caught up (false only in check mode; a wait that times out fails).
  returned: always
  type: bool
lag_bytes:
  description: WAL bytes between the source's current position and the replica's; null for MongoDB.
  returned: always
  type: int
lag_seconds:
  description: The replica's lag in seconds, null when the server measures none while the replica is behind.
  returned: always
  type: float
waited_ms:
  description: Milliseconds waited (0 in check mode).
  returned: always
  type: int
replica_position:
  description: The replica's position (an LSN, or V(<seconds>:<increment>) for MongoDB).
  returned: always
  type: str
source_position:
  description: The source's newest position at the last reading.
  returned: always
  type: str
target_position:
  description: The position waited for (the target given, or the source's position when the wait began); null
    when only lag limits were given.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.replication_sync import (
        ReplicationSyncRequest,
        sync_replica,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.replication.wait import ReplicationTimeout


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        kind={"type": "str", "required": True, "choices": ["physical", "logical", "mongodb"]},
        replica_name={"type": "str"},
        copy_uri={"type": "str", "no_log": True},
        target_lsn={"type": "str"},
        target_time={"type": "str"},
        max_lag_bytes={"type": "int"},
        max_lag_seconds={"type": "float"},
        timeout={"type": "float", "default": 300.0},
        poll_interval={"type": "float", "default": 0.5},
        progress_interval={"type": "float", "default": 0},
    ))


def build_request(params: dict, check_mode: bool) -> ReplicationSyncRequest:
    return ReplicationSyncRequest(
        kind=params["kind"], source=DatabaseConnections.from_options(params), replica_name=params["replica_name"],
        copy_uri=params["copy_uri"], target_lsn=params["target_lsn"], target_time=params["target_time"],
        max_lag_bytes=params["max_lag_bytes"], max_lag_seconds=params["max_lag_seconds"],
        timeout=params["timeout"], poll_interval=params["poll_interval"], check_mode=check_mode)


def timeout_details(exc: BaseException) -> dict:
    """The last lag read when the wait timed out."""
    if not isinstance(exc, ReplicationTimeout):
        return {}
    reading = exc.reading
    return {"lag_bytes": reading.lag_bytes, "lag_seconds": reading.lag_seconds, "waited_ms": exc.waited_ms,
            "replica_position": reading.replica_text, "source_position": reading.source_text, "caught_up": False}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_if=[("kind", "physical", ("replica_name",)),
                                        ("kind", "logical", ("replica_name",)),
                                        ("kind", "mongodb", ("mongodb_uri", "mongodb_database", "copy_uri"))],
                           mutually_exclusive=[("target_lsn", "target_time")], supports_check_mode=True)
    module_runner.run_module(
        module, engine="the replication sync engine", engine_import=ENGINE, build=build_request,
        run=lambda request: sync_replica(request),  # pylint: disable=unnecessary-lambda
        failure_details=timeout_details)


if __name__ == "__main__":
    main()
