#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: emergency_assessment
short_description: Measure the damage of a database emergency and choose the recovery strategy
version_added: 0.1.0
description:
  - Reads, and changes nothing. PostgreSQL, with O(postgres_dsn) - the standbys in C(pg_stat_replication) and their
    replay lag, the WAL archiver (C(pg_stat_archiver) - last archived, last failure) and the application's tables.
    MongoDB, with O(mongodb_uri) - the application's collections and, with O(repository), the change capture's
    newest checkpoint and its lag.
  - With O(repository), the newest recovery point before O(incident_time) and the newest backup of each engine in
    the repository catalog, and the tables and collections that this recovery point's inventory lists and that are
    gone now. A point taken before recovery points recorded inventories gives V(null) (unknown).
  - O(migrations_status) is the registered result of M(sevenp.dbops.migrate) with
    O(sevenp.dbops.migrate#module:state=status) and C(verify_applied=true) - half-applied and failed sets, drift,
    and the verification of every applied set.
  - From all of that, RV(strategy) is chosen by the collection's documented rules, in order - wide damage gives a
    full point-in-time recovery; a half-applied set, repair in place; a failing verification, a rollback to the
    version before the first failing set; missing tables or collections, their restore from the recovery point;
    nothing found, nothing (or with severity V(critical), a full point-in-time recovery).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Only reads, in check mode and out of it; the same reads run in both.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Never changes anything; always RV(changed=false).
    support: full
options:
  severity:
    description:
      - How bad the operator judges the incident; V(critical) makes a full point-in-time recovery the strategy when
        the assessment finds no damage it can localise.
    type: str
    choices: [low, medium, high, critical]
    required: true
  migrations_status:
    description:
      - The result of M(sevenp.dbops.migrate) with O(sevenp.dbops.migrate#module:state=status) (its C(sets),
        C(current), C(warnings) and C(verification)). Empty - the ledgers are not assessed.
    type: dict
    default: {}
  incident_time:
    description:
      - When the incident began (ISO 8601, UTC), so that the recovery point chosen is older than the damage.
      - When omitted, now.
    type: str
  on_partial:
    description:
      - How a half-applied set is repaired in place - V(compensate) undoes its applied parts (the set under way is
        the suspect), V(resume) finishes it (when its cause is known to be fixed, or it was only interrupted).
    type: str
    choices: [resume, compensate]
    default: compensate
  max_narrow_objects:
    description:
      - More missing tables and collections than this is wide damage, recovered with a full point-in-time recovery.
    type: int
    default: 3
  capture_max_lag:
    description:
      - Seconds; a change capture checkpoint older than this is reported unhealthy.
    type: float
    default: 60
notes:
  - O(repository) is optional here; without it, recovery points, backups and missing objects are unknown.
seealso:
  - module: sevenp.dbops.migrate
  - module: sevenp.dbops.recovery_point
"""

EXAMPLES = r"""
- name: Read the ledgers with every applied set's verification
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    migrations_dir: /srv/app/migrations
    state: status
    verify_applied: true
    allow_drift: true
  register: ledger_status

- name: Assess the damage and choose the strategy
  sevenp.dbops.emergency_assessment:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    repository: s3://backups/education
    severity: high
    migrations_status: "{{ ledger_status }}"
  register: assessment
"""

RETURN = r"""
changed:
  description: Always V(false).
  returned: always
  type: bool
assessment:
  description:
    - What was measured - C(postgres) (C(replication), C(archiver), C(tables)), C(mongodb) (C(collections),
      C(capture)), C(ledger) (C(half_applied), C(failed), C(drift), C(verification), C(failing_verification)),
      C(coverage) (C(recovery_point), C(backups)), C(missing) (C(tables), C(collections); V(null) when unknown),
      C(assessed_at), C(incident_time).
  returned: always
  type: dict
strategy:
  description: The strategy chosen and the rule that chose it.
  returned: always
  type: dict
  contains:
    name:
      description: V(none), V(repair_in_place), V(roll_back), V(restore_objects), V(full_pitr) or V(manual).
      type: str
    rule:
      description: The id of the rule that fired, as documented.
      type: str
    reason:
      description: Why, in words, naming the versions and objects.
      type: str
    on_partial:
      description: For V(repair_in_place), resume or compensate.
      type: str
    target_version:
      description: For V(repair_in_place), the set to repair; for V(roll_back), the version to return to.
      type: str
    tables:
      description: For V(restore_objects), the tables (C(schema.table)) to restore.
      type: list
      elements: str
    collections:
      description: For V(restore_objects), the collections to restore.
      type: list
      elements: str
    recovery_point:
      description: For V(restore_objects) and V(full_pitr), the recovery point to restore from.
      type: str
clean:
  description: Nothing to recover - no half-applied set, no failing verification, no missing table or collection.
  returned: always
  type: bool
queries:
  description: The statements and commands run (all of them reads).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.emergency.assessment import (
        AssessmentRequest,
        run_assessment,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        severity={"type": "str", "choices": ["low", "medium", "high", "critical"], "required": True},
        migrations_status={"type": "dict", "default": {}},
        incident_time={"type": "str"},
        on_partial={"type": "str", "choices": ["resume", "compensate"], "default": "compensate"},
        max_narrow_objects={"type": "int", "default": 3},
        capture_max_lag={"type": "float", "default": 60},
    ), repository=True)


def build_request(params: dict, check_mode: bool) -> AssessmentRequest:
    return AssessmentRequest(
        databases=DatabaseConnections.from_options(params), severity=params["severity"],
        repository=repository_options(params) if params["repository"] else None,
        migrations_status=params["migrations_status"], incident_time=params["incident_time"],
        on_partial=params["on_partial"], max_narrow_objects=params["max_narrow_objects"],
        capture_max_lag=params["capture_max_lag"], check_mode=check_mode,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"}, supports_check_mode=True)
    module_runner.run_module(
        module, engine="the emergency assessment", engine_import=ENGINE, build=build_request,
        run=lambda request: run_assessment(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
