#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pgbouncer_switch
short_description: Pause, resume or retarget one PgBouncer database, or report where it points
version_added: 0.1.0
description:
  - "Works through PgBouncer's admin console (O(admin_dsn), the database C(pgbouncer), as a user listed in
    C(admin_users)) and, to retarget, its ini file (O(config)). Every admin command is bounded by O(timeout)."
  - "O(action=pause): C(PAUSE) the database; PgBouncer waits for the transactions running on it to end (with
    session pooling, for the sessions), then holds new queries. When that takes longer than O(timeout), the
    PAUSE's connection is closed, C(RESUME) is sent on a fresh connection (only then: a RESUME racing a PAUSE
    still waiting for its reply has hung PgBouncer) and the module fails, clients still on the old target."
  - "O(action=resume): C(RESUME) the database. O(action=status): C(SHOW DATABASES) for it."
  - "O(action=retarget): rewrite the C(host), C(port) and C(dbname) of the database's C([databases]) entry in
    O(config) (every other line, comment and setting kept; the file replaced atomically with its owner and mode),
    send C(RELOAD), then read C(SHOW DATABASES) until it shows the new target. Pause first so that no transaction
    is cut: pause, retarget, resume."
  - The database is the name clients connect to (O(database)); C(PAUSE) and C(RESUME) are skipped when it already
    is paused or running, and a retarget when the file and PgBouncer already show the target.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Reads C(SHOW DATABASES) and the ini file and returns the commands and the ini change it would
      make; sends no C(PAUSE), C(RESUME) or C(RELOAD) and writes nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Pausing a paused database, resuming a running one or retargeting to the current target changes
      nothing.
    support: full
options:
  admin_dsn:
    description:
      - libpq connection string of PgBouncer's admin console (V(postgresql://pgbouncer_admin@host:6432/pgbouncer)).
      - The password is never shown in the output, in errors or in logs.
    type: str
    required: true
  action:
    description: What to do.
    type: str
    required: true
    choices: [pause, resume, retarget, status]
  database:
    description: The PgBouncer database (the name clients connect to).
    type: str
    required: true
  config:
    description: The PgBouncer ini file whose C([databases]) entry is retargeted; required for O(action=retarget).
    type: path
  target_host:
    description: O(action=retarget) the new host of the entry.
    type: str
  target_port:
    description: O(action=retarget) the new port of the entry.
    type: int
  target_dbname:
    description: O(action=retarget) the new database name on the server.
    type: str
  timeout:
    description:
      - Seconds each admin command may take (and the wait for C(SHOW DATABASES) to show a new target).
    type: float
    default: 10
seealso:
  - module: sevenp.dbops.replication_sync
  - module: sevenp.dbops.haproxy_switch
"""

EXAMPLES = r"""
- name: Hold new transactions while green catches up
  sevenp.dbops.pgbouncer_switch:
    admin_dsn: "{{ dbops_pgbouncer_admin_dsn }}"
    database: "{{ dbops_pgbouncer_database }}"
    action: pause
    timeout: 15

- name: Point the database at green
  sevenp.dbops.pgbouncer_switch:
    admin_dsn: "{{ dbops_pgbouncer_admin_dsn }}"
    config: "{{ dbops_pgbouncer_config }}"
    database: "{{ dbops_pgbouncer_database }}"
    action: retarget
    target_host: green-db.internal
    target_port: 5432
    target_dbname: app

- name: Let the held transactions run, on green
  sevenp.dbops.pgbouncer_switch:
    admin_dsn: "{{ dbops_pgbouncer_admin_dsn }}"
    database: "{{ dbops_pgbouncer_database }}"
    action: resume
"""

RETURN = r"""
queries:
  description:
    - "The admin commands sent (in check mode, also the ones it would send) and the ini change, as
      V(rewrite <path>:<line>: <old> -> <new>) (passwords masked)."
  returned: always
  type: list
  elements: str
changed:
  description: Whether the database was paused, resumed or retargeted (would be, in check mode).
  returned: always
  type: bool
database:
  description: The database's row of C(SHOW DATABASES) after the action (before it, in check mode), with name,
    host, port, database, pool_mode, paused, disabled and current_connections.
  returned: always
  type: dict
config_change:
  description: The ini line changed, as in RV(queries) (without V(rewrite)); absent when the file already had
    the target.
  returned: when the ini file is changed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import secrets_in_connection_string

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.pgbouncer_switch import (
        PgbouncerSwitchRequest,
        switch_pgbouncer,
    )


def argument_spec() -> dict:
    return dict(
        admin_dsn={"type": "str", "required": True, "no_log": True},
        action={"type": "str", "required": True, "choices": ["pause", "resume", "retarget", "status"]},
        database={"type": "str", "required": True},
        config={"type": "path"},
        target_host={"type": "str"},
        target_port={"type": "int"},
        target_dbname={"type": "str"},
        timeout={"type": "float", "default": 10.0},
    )


def build_request(params: dict, check_mode: bool) -> PgbouncerSwitchRequest:
    return PgbouncerSwitchRequest(
        admin_dsn=params["admin_dsn"], action=params["action"], database=params["database"], config=params["config"],
        target_host=params["target_host"], target_port=params["target_port"], target_dbname=params["target_dbname"],
        timeout=params["timeout"], check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(),
                           required_if=[("action", "retarget",
                                         ("config", "target_host", "target_port", "target_dbname"))],
                           supports_check_mode=True)
    # A driver error may quote only the password of the admin DSN: masked too, not just the whole value.
    module.no_log_values.update(secrets_in_connection_string(module.params["admin_dsn"]))
    module_runner.run_module(
        module, engine="the PgBouncer switch engine", engine_import=ENGINE, build=build_request,
        run=lambda request: switch_pgbouncer(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
