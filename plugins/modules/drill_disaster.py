#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_disaster
short_description: Simulate a disaster for a drill by dropping a PostgreSQL table and a MongoDB collection
version_added: 0.1.0
description:
  - Drops O(table) in the PostgreSQL database of O(postgres_dsn) and O(collection) in O(mongodb_database), the
    data a drill's write load (M(sevenp.dbops.drill_load)) filled, so that the drill can prove a restore brings them
    back.
  - Refuses unless O(confirm=true). Absent objects are skipped (a rerun changes nothing).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
attributes:
  check_mode:
    description: In check mode nothing is dropped; the statements that would run are returned.
    support: full
  diff_mode:
    description: Not applicable.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
options:
  table:
    description: PostgreSQL table to drop, optionally schema-qualified.
    type: str
    default: dbops_drill_writes
  collection:
    description: MongoDB collection to drop.
    type: str
    default: dbops_drill_writes
  confirm:
    description: Must be V(true), because this module destroys data on purpose.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Simulate the disaster
  sevenp.dbops.drill_disaster:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    confirm: true
"""

RETURN = r"""
dropped:
  description: What was dropped (in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: ["postgres table dbops_drill_writes", "mongodb collection education_platform.dbops_drill_writes"]
statements:
  description: The statements run (in check mode, that would run).
  returned: always
  type: list
  elements: str
at:
  description: Time of the disaster (seconds since the epoch).
  returned: always
  type: float
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
)

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.disaster import strike
except ImportError:
    ENGINE_IMPORT_ERROR = traceback.format_exc()

    class DbopsError(Exception):  # stands in for the engine's error class when it cannot be imported
        """Never raised: the module fails before calling the engine."""
else:
    ENGINE_IMPORT_ERROR = None


def main() -> None:
    spec = connection_argument_spec(env_fallback)
    spec.update(
        table={"type": "str", "default": "dbops_drill_writes"},
        collection={"type": "str", "default": "dbops_drill_writes"},
        confirm={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"})
    module.no_log_values.update(connection_secrets(module.params))
    if ENGINE_IMPORT_ERROR:
        module.fail_json(msg="the sevenp.dbops engine (module_utils) could not be imported",
                         exception=ENGINE_IMPORT_ERROR)
    params = module.params
    if not params["confirm"]:
        module.fail_json(msg="drill_disaster drops data on purpose: set confirm: true to let it")
    try:
        outcome = strike(postgres_dsn=params["postgres_dsn"], table=params["table"],
                         mongodb_uri=params["mongodb_uri"], mongodb_database=params["mongodb_database"],
                         collection=params["collection"], check_mode=module.check_mode)
    except DbopsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=outcome.changed, dropped=outcome.dropped, statements=outcome.statements, at=outcome.at)


if __name__ == "__main__":
    main()
