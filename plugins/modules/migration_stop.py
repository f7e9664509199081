#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migration_stop
short_description: Stop every running migrate on PostgreSQL and MongoDB and wait until it is gone
version_added: 0.1.0
description:
  - "PostgreSQL: the backend holding the migration runner's advisory lock (the session the migrate engine runs
    its statements on) is cancelled with C(pg_cancel_backend); if it is still there after O(grace_period) seconds
    it is terminated with C(pg_terminate_backend). The module returns once the session is gone."
  - "MongoDB: a stop is requested in the live lock document in C(dbops_lock); the runner reads it between
    operations and batches, wherever it runs, and stops there. If it is still running after O(grace_period)
    seconds, an owner on this host is sent SIGTERM; if the lock is still held after that, the runner's operations
    in progress are killed with C(killOp) (found by the appName its connection announces). Every step is in
    the C(steps) of RV(mongodb); an owner on another host that does not stop is reported (its lock expires
    unless renewed)."
  - The set that was under way is left as a crash leaves it; the next C(sevenp.dbops.migrate) run applies the
    engine's resume rules to it (C(on_partial)).
  - Sessions of the collection that hold no runner lock (backups, change capture) are counted in
    RV(other_sessions) and never stopped.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Reports the running migrations it finds; nothing is cancelled or signalled.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: With no migration running, nothing is done and RV(changed=false).
    support: full
options:
  grace_period:
    description:
      - Seconds a cancelled PostgreSQL session gets to end by itself before it is terminated, and a MongoDB runner
        asked to stop before it is signalled (and again before its operations are killed).
    type: float
    default: 10
  wait_timeout:
    description:
      - Seconds to wait for a terminated session (or a signalled MongoDB lock owner) to be gone; the module
        fails when a PostgreSQL session is still there after that.
    type: float
    default: 60
seealso:
  - module: sevenp.dbops.migrate
  - module: sevenp.dbops.read_only
"""

EXAMPLES = r"""
- name: Stop the migration that is running
  sevenp.dbops.migration_stop:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
  register: stopped
"""

RETURN = r"""
queries:
  description: The statements run (or, in check mode, the ones that found the runners).
  returned: always
  type: list
  elements: str
changed:
  description: Whether a running migration was stopped.
  returned: always
  type: bool
running:
  description: Whether a running migration was found.
  returned: always
  type: bool
postgres:
  description: The PostgreSQL runner sessions found, each with pid, role, application_name, state, query and
    stopped_by (V(cancel), V(terminate), or empty in check mode).
  returned: always
  type: list
  elements: dict
mongodb:
  description: The live MongoDB runner lock found (owner, host, pid, expires_at, action, released, steps), or null.
  returned: always
  type: dict
other_sessions:
  description: PostgreSQL sessions of the collection that hold no runner lock (not stopped).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.stop_migrations import (
        StopMigrationsRequest,
        stop_migrations,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        grace_period={"type": "float", "default": 10.0},
        wait_timeout={"type": "float", "default": 60.0},
    ))


def build_request(params: dict, check_mode: bool) -> StopMigrationsRequest:
    if params["grace_period"] < 0 or params["wait_timeout"] <= 0:
        raise ValueError("grace_period must be >= 0 and wait_timeout > 0")
    return StopMigrationsRequest(databases=DatabaseConnections.from_options(params),
                                 grace_period=params["grace_period"], wait_timeout=params["wait_timeout"],
                                 check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"}, supports_check_mode=True)
    module_runner.run_module(
        module, engine="the migration stop engine", engine_import=ENGINE,
        build=build_request, run=lambda request: stop_migrations(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
