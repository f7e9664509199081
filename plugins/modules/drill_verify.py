#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_verify
short_description: Check a drill's restore write by write against the recovery point, and compute the RPO
version_added: 0.1.0
description:
  - Reads the acknowledgement log of M(sevenp.dbops.drill_load) and the rows and documents the restored databases
    hold, and places every acknowledged write before or after the recovery point in each database's own order
    (PostgreSQL WAL position, MongoDB oplog timestamp).
  - Every write acknowledged before the point must be restored, none written after it may be, and the restored
    writes must form a prefix of each writer's sequence. RV(rpo_writes_lost) counts committed writes lost.
  - Reports the outcome; it does not fail on a failed verification (RV(verified) says so), so a report can
    still be written. Fails when a database cannot be read.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    support: none
options:
  run_id:
    description: The drill run whose writes are checked (as given to M(sevenp.dbops.drill_load)).
    type: str
    required: true
  work_dir:
    description: The load's work directory, holding C(acks.jsonl).
    type: path
    required: true
  table:
    description: PostgreSQL table of the load.
    type: str
    default: dbops_drill_writes
  collection:
    description: MongoDB collection of the load.
    type: str
    default: dbops_drill_writes
  point_lsn:
    description: LSN of the recovery point (what C(pg_create_restore_point) returned).
    type: str
  point_oplog_ts:
    description:
      - MongoDB cluster time of the recovery point, as V(seconds.increment), V(seconds:increment) or a dict with
        keys C(t) and C(i).
    type: raw
  point_started_at:
    description:
      - When taking the recovery point began (seconds since the epoch).
      - Used where no database position is known.
    type: float
    required: true
  point_finished_at:
    description: When taking the recovery point ended (seconds since the epoch).
    type: float
    required: true
  timeline_origin:
    description: Start of the returned timeline (seconds since the epoch); default the first acknowledged write.
    type: float
  timeline_until:
    description: End of the returned timeline (seconds since the epoch); default the last acknowledged write.
    type: float
"""

EXAMPLES = r"""
- name: Verify the restore against the recovery point
  sevenp.dbops.drill_verify:
    run_id: drill-1
    work_dir: /var/tmp/dbops-drill/drill-1
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    point_lsn: "{{ point.lsn }}"
    point_oplog_ts: "{{ point.oplog_ts }}"
    point_started_at: "{{ point_started_at }}"
    point_finished_at: "{{ point_finished_at }}"
  register: drill_verification
"""

RETURN = r"""
queries:
  description: Always empty (this module runs no statement of its own); every sevenp.dbops module returns it.
  returned: always
  type: list
  elements: str
verified:
  description: Every database restored exactly the writes acknowledged before the point (and in order).
  returned: always
  type: bool
rpo_writes_lost:
  description: Writes acknowledged before the recovery point that the restored databases do not hold.
  returned: always
  type: int
  sample: 0
rpo_seconds:
  description: How far before the point the oldest lost write was acknowledged (0 when nothing was lost).
  returned: always
  type: float
databases:
  description:
    - Per database, the counts behind the verdict (acknowledged, before_point, after_point, in_flight, lost,
      overshoot, ...).
  returned: always
  type: dict
postgres_in_recovery:
  description: Whether the restored PostgreSQL server still answers pg_is_in_recovery() = true (it must not).
  returned: when postgres_dsn is given
  type: bool
timeline:
  description: Acknowledged writes per time bucket and fate, for the report's picture.
  returned: always
  type: dict
at:
  description: Time of the verification (seconds since the epoch).
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.acknowledgements import (
        MONGODB,
        POSTGRES,
        AckLog,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.restored_writes import (
        mongodb_sequences,
        postgres_sequences,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.verification import (
        RecoveryPointMark,
        timeline,
        verify,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.write_load import LoadSpec


def parse_op_time(value) -> tuple[int, int] | None:
    """'1795607353.6', '1795607353:6', {'t': .., 'i': ..} or [t, i] -> (t, i)."""
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return int(value["t"]), int(value["i"])
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), int(value[1])
    text = str(value).strip()
    for separator in (".", ":", ","):
        if separator in text:
            seconds, increment = text.split(separator, 1)
            return int(seconds), int(increment)
    raise ValueError(f"point_oplog_ts {value!r} is not a cluster time such as 1795607353.6 or {{t: .., i: ..}}")


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        run_id={"type": "str", "required": True},
        work_dir={"type": "path", "required": True},
        table={"type": "str", "default": "dbops_drill_writes"},
        collection={"type": "str", "default": "dbops_drill_writes"},
        point_lsn={"type": "str"},
        point_oplog_ts={"type": "raw"},
        point_started_at={"type": "float", "required": True},
        point_finished_at={"type": "float", "required": True},
        timeline_origin={"type": "float"},
        timeline_until={"type": "float"},
    ))


def build_mark(params: dict, _check_mode: bool) -> RecoveryPointMark:
    try:
        return RecoveryPointMark(started_at=params["point_started_at"], finished_at=params["point_finished_at"],
                                 postgres_lsn=params["point_lsn"] or None,
                                 mongodb_op_time=parse_op_time(params["point_oplog_ts"]))
    except (KeyError, TypeError) as exc:  # a point_oplog_ts dict without t or i, or with non-numbers
        raise ValueError(f"point_oplog_ts {params['point_oplog_ts']!r} is not a cluster time: {exc}") from exc


def verify_restore(mark: RecoveryPointMark, params: dict, found: dict) -> dict:
    """The verification's return values; found collects what was read, for the report of a failure."""
    log = AckLog(LoadSpec(run_id=params["run_id"], work_dir=params["work_dir"]).ack_log)
    acks = log.acks()
    if not acks:
        raise DbopsError(f"no acknowledged write in {log.path}: did the drill's write load run?")
    unacknowledged: dict[str, set[int]] = {}
    for failure in log.failures():
        unacknowledged.setdefault(failure.db, set()).add(failure.seq)
    restored: dict[str, set[int]] = {}
    if params["postgres_dsn"]:
        seqs, table_exists, in_recovery = postgres_sequences(params["postgres_dsn"], params["table"],
                                                             params["run_id"])
        restored[POSTGRES] = seqs
        found.update(postgres_in_recovery=in_recovery, postgres_table_exists=table_exists)
    if params["mongodb_uri"]:
        seqs, collection_exists = mongodb_sequences(params["mongodb_uri"], params["mongodb_database"],
                                                    params["collection"], params["run_id"])
        restored[MONGODB] = seqs
        found["mongodb_collection_exists"] = collection_exists
    verification, fates = verify(acks, unacknowledged, restored, mark)
    outcome = {"changed": False, **found, **verification.as_dict()}
    if found.get("postgres_in_recovery"):
        outcome["verified"] = False
    outcome["timeline"] = timeline(acks, fates, origin=params["timeline_origin"], until=params["timeline_until"])
    return outcome


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"})
    found: dict = {}
    module_runner.run_module(
        module, engine="the drill's verification", engine_import=ENGINE, build=build_mark,
        run=lambda mark: verify_restore(mark, module.params, found),
        failure_details=lambda _exc: found)


if __name__ == "__main__":
    main()
