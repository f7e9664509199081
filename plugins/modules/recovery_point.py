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
attributes:
  check_mode:
    description: Returns the statements that would run; no restore point is created and nothing is written.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: An existing O(name) is returned unchanged (RV(changed=false)) unless O(overwrite=true).
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
  action_group:
    description: Part of the C(sevenp.dbops.dbops) action group, for setting connection options with C(module_defaults).
    support: full
    membership:
      - sevenp.dbops.dbops
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
queries:
  description: The statements run (or that would run, in check mode).
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import (
    REPOSITORY_REQUIRED,
    module_result,
    repository_argument_spec,
    repository_options_kwargs,
    repository_secrets,
)

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.recovery_point import (
        RecoveryPointRequest,
        create_recovery_point,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import (
        RepositoryOptions,
    )
except ImportError:
    ENGINE_IMPORT_ERROR = traceback.format_exc()

    class DbopsError(Exception):  # stand-in so that the except clause below still compiles
        pass
else:
    ENGINE_IMPORT_ERROR = None


def argument_spec() -> dict:
    spec = connection_argument_spec(env_fallback)
    spec.update(repository_argument_spec(env_fallback))
    spec.update(
        name={"type": "str", "required": True},
        overwrite={"type": "bool", "default": False},
        wait_timeout={"type": "float", "default": 300},
    )
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"}, supports_check_mode=True)
    module.no_log_values.update(connection_secrets(module.params))
    module.no_log_values.update(repository_secrets(module.params))
    if ENGINE_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("the sevenp.dbops engine (module_utils)"),
                         exception=ENGINE_IMPORT_ERROR)
    params = module.params
    if not params["repository"]:
        module.fail_json(msg=REPOSITORY_REQUIRED)
    request = RecoveryPointRequest(
        name=params["name"], repository=RepositoryOptions(**repository_options_kwargs(params)),
        postgres_dsn=params["postgres_dsn"], mongodb_uri=params["mongodb_uri"],
        mongodb_database=params["mongodb_database"], wait_timeout=params["wait_timeout"],
        overwrite=params["overwrite"], check_mode=module.check_mode,
    )
    try:
        outcome = create_recovery_point(request)
    except DbopsError as exc:
        module.fail_json(msg=str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # a bug: still one message, with the traceback for -vvv
        module.fail_json(msg=f"unexpected {type(exc).__name__} taking recovery point {params['name']}: {exc}",
                         exception=traceback.format_exc())
    result, warnings = module_result(outcome)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
