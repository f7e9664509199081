#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: recovery_point
short_description: Name a point PostgreSQL and MongoDB can both be restored to
version_added: 0.1.0
description:
  - PostgreSQL, with O(postgres_dsn), C(pg_create_restore_point()) in its own statement (its WAL record is written
    at once, not at commit, so everything committed before the statement is before the point), a WAL switch, and a
    wait until that WAL segment is in the repository. The LSN it returns is recorded.
  - Names repeat (every drill may create C(before_disaster)) and PostgreSQL stops at the first restore point of a
    name after the base backup, so the name written to WAL is a unique internal one; the catalog maps O(name) to it.
  - MongoDB, with O(mongodb_uri), the cluster time at that moment, and a wait until the change archive has captured
    past it.
  - Both positions are written to the repository's catalog under O(name), only once both are archived.
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
    description: Returns the statements that would run; no restore point is created and nothing is written.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: An existing O(name) is returned unchanged (RV(changed=false)) unless O(overwrite=true).
    support: full
options:
  name:
    description:
      - Name of the recovery point (1-63 letters, digits, C(_), C(.), C(-)).
    type: str
    required: true
  overwrite:
    description:
      - Take a new point even when O(name) exists; the catalog then maps the name to the new point.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the WAL segment (and the MongoDB change archive) to reach the repository.
    type: float
    default: 300
notes:
  - PostgreSQL must archive WAL into the same O(repository) (role C(sevenp.dbops.wal_archiving)), and for MongoDB
    the change capture must be running.
seealso:
  - module: sevenp.dbops.restore
  - module: sevenp.dbops.backup
"""

EXAMPLES = r"""
- name: Name the moment before the migration
  sevenp.dbops.recovery_point:
    name: before_2024_013
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: /srv/backups/dbops
  register: point

- name: Take a fresh point under a name used before
  sevenp.dbops.recovery_point:
    name: before_disaster
    overwrite: true
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    repository: s3://backups/education-platform
"""

RETURN = r"""
queries:
  description: The statements run (or that would run, in check mode).
  returned: always
  type: list
  elements: str
changed:
  description: Whether a new point was taken.
  returned: always
  type: bool
name:
  description: The recovery point's name.
  returned: always
  type: str
  sample: before_disaster
time:
  description: When the point was taken (UTC, ISO 8601).
  returned: unless in check mode
  type: str
  sample: "2026-11-25T14:01:00.123456Z"
lsn:
  description: The LSN C(pg_create_restore_point()) returned.
  returned: when PostgreSQL is involved and not in check mode
  type: str
  sample: 0/3000858
wal_file:
  description: The WAL segment holding the point (archived before the module returns).
  returned: when PostgreSQL is involved and not in check mode
  type: str
  sample: "000000010000000000000003"
internal_name:
  description: The unique restore point name written to WAL.
  returned: when PostgreSQL is involved and not in check mode
  type: str
oplog_ts:
  description: The MongoDB cluster time of the point, as C({t, i}).
  returned: when MongoDB is involved and not in check mode
  type: dict
point:
  description: The catalog entry.
  returned: unless in check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
        RecoveryPointRequest,
        create_recovery_point,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        name={"type": "str", "required": True},
        overwrite={"type": "bool", "default": False},
        wait_timeout={"type": "float", "default": 300},
    ), repository=True)


def build_request(params: dict, check_mode: bool) -> RecoveryPointRequest:
    return RecoveryPointRequest(
        name=params["name"], repository=repository_options(params),
        databases=DatabaseConnections.from_options(params), wait_timeout=params["wait_timeout"],
        overwrite=params["overwrite"], check_mode=check_mode,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"}, supports_check_mode=True)
    module_runner.run_module(
        module, engine=f"the recovery point engine (taking {module.params['name']})",
        engine_import=ENGINE, build=build_request,
        run=lambda request: create_recovery_point(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
