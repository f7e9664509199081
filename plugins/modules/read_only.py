#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: read_only
short_description: Emergency read-only mode for PostgreSQL and MongoDB, and its exact undo
version_added: 0.1.0
description:
  - O(state=enabled) makes the databases refuse the application's writes while reads keep working;
    O(state=disabled) puts back exactly what enabling changed, nothing more; O(state=status) reports what the
    state file records.
  - "PostgreSQL, O(mode=soft): C(ALTER SYSTEM SET default_transaction_read_only = on) and a reload. Any session
    can still turn it off for itself, so this is a guard against mistakes, not a fence."
  - "PostgreSQL, O(mode=hard): also, for every role that can log in and is neither exempt nor a superuser, the
    role-level C(default_transaction_read_only = on) and the revocation of every write privilege it can use
    (INSERT, UPDATE, DELETE, TRUNCATE on tables and columns, USAGE and UPDATE on sequences, CREATE on schemas;
    its own grants, its groups' and PUBLIC's). Revoking grants was chosen over C(NOLOGIN): C(NOLOGIN) would also
    refuse new connections that only read. Each ACL entry revoked is recorded with its grantor and grant option,
    so disabling re-grants exactly those."
  - Hard mode refuses (before changing anything) when a role to fence can act as the owner of a relation or is a
    member of a superuser, of C(pg_write_all_data) or of an exempt role, since grants cannot stop it. Superusers
    that are not exempt cannot be fenced by grants and are listed in RV(unfenced).
  - The exempt roles get C(default_transaction_read_only = off) on the role so that they keep writing.
  - With O(terminate_writers), the backends of the fenced roles that hold a transaction id, sit idle in a
    transaction or hold a write lock are terminated (waiting for each to be gone), so no write already under way
    commits after the module returns.
  - MongoDB, with O(mongodb_uri), C(setUserWriteBlockMode) where the server has it, else the application users'
    write roles are revoked and their read equivalents granted, recording exactly which roles were held.
  - Everything to be changed is written to O(state_file) before it is changed, so a rerun after a crash
    completes the enable or the undo.
  - After enabling, a write (and C(nextval) on a sequence it could use) is attempted and must be refused, and a
    read must succeed, as each fenced role and as a probe role created for the purpose (and dropped); after
    disabling, a write each fenced role was allowed before must be accepted again. RV(probes) lists them.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Returns the statements that would run; nothing is changed and no state file is written.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Enabling an engaged mode, or disabling a mode that is not engaged, returns RV(changed=false).
    support: full
options:
  state:
    description:
      - V(enabled) engages the mode, V(disabled) undoes it, V(status) reports the state file.
    type: str
    choices: [enabled, disabled, status]
    default: enabled
  mode:
    description:
      - V(hard) fences the roles so that no session can write; V(soft) only sets the server default.
    type: str
    choices: [hard, soft]
    default: hard
  terminate_writers:
    description:
      - Terminate the fenced roles' backends that could still commit a write begun before the mode.
    type: bool
    default: true
  exempt_roles:
    description:
      - PostgreSQL roles and MongoDB users that keep writing. The role of O(postgres_dsn) and the user of
        O(mongodb_uri) are always exempt.
    type: list
    elements: str
    default: []
  state_file:
    description:
      - Where the record of what was changed is kept (written atomically, mode 0600).
      - Defaults to C(/var/lib/sevenp-dbops/read_only/<hash of the servers and databases>.json).
    type: path
  verify:
    description:
      - After enabling, prove it with write and read probes; after disabling, prove that writes are accepted again.
    type: bool
    default: true
notes:
  - Sequences (C(nextval)), functions defined C(SECURITY DEFINER) by an exempt role, and tables created by an
    exempt role while the mode is engaged (their default privileges apply) are not fenced; enabling again picks
    up new tables.
  - The grants are those of the database O(postgres_dsn) names; the cluster's other databases get the server
    default and the role-level setting only (which a session can turn off).
  - Grants to PUBLIC are revoked too, so an exempt role that is not a superuser and wrote only through PUBLIC
    loses that while the mode is engaged.
seealso:
  - module: sevenp.dbops.migrate
"""

EXAMPLES = r"""
- name: Stop the application's writes on both databases
  sevenp.dbops.read_only:
    state: enabled
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    exempt_roles: [dbops_admin]
  register: fence

- name: Lift it again, exactly
  sevenp.dbops.read_only:
    state: disabled
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
"""

RETURN = r"""
queries:
  description: The statements run (or that would run, in check mode).
  returned: always
  type: list
  elements: str
changed:
  description: Whether anything was changed.
  returned: always
  type: bool
state:
  description: The state asked for.
  returned: always
  type: str
state_file:
  description: The state file used.
  returned: always
  type: str
previous:
  description: Per database (C(postgres), C(mongodb)), exactly what enabling changed, with the values before.
  returned: always
  type: dict
phases:
  description: Per database, the phase the state file records after the run (C(planned), C(engaged)).
  returned: always
  type: dict
probes:
  description:
    - The verification probes after enabling or disabling, each with database, role, kind, statement, outcome, ok
      (and C(expect=accepted) for the probes after disabling).
  returned: always
  type: list
  elements: dict
terminated:
  description: The PostgreSQL backends terminated (pid, role).
  returned: always
  type: list
  elements: dict
databases:
  description: The databases the run looked at (C(postgres), C(mongodb)).
  returned: always
  type: list
  elements: str
unfenced:
  description: Superusers that are not exempt, which grants cannot fence.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.read_only import (
        ReadOnlyRequest,
        run_read_only,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        state={"type": "str", "choices": ["enabled", "disabled", "status"], "default": "enabled"},
        mode={"type": "str", "choices": ["hard", "soft"], "default": "hard"},
        terminate_writers={"type": "bool", "default": True},
        exempt_roles={"type": "list", "elements": "str", "default": []},
        state_file={"type": "path"},
        verify={"type": "bool", "default": True},
    ))


def build_request(params: dict, check_mode: bool) -> ReadOnlyRequest:
    return ReadOnlyRequest(
        databases=DatabaseConnections.from_options(params), state=params["state"], mode=params["mode"],
        terminate_writers=params["terminate_writers"], exempt_roles=tuple(params["exempt_roles"]),
        state_file=params["state_file"], verify=params["verify"], check_mode=check_mode,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"}, supports_check_mode=True)
    module_runner.run_module(
        module, engine=f"the read-only engine ({module.params['state']})", engine_import=ENGINE,
        build=build_request, run=lambda request: run_read_only(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
