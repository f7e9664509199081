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
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: In check mode nothing is dropped; the statements that would run are returned.
    support: full
  diff_mode:
    support: none
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
queries:
  description: The statements run (in check mode, that would run); the same as RV(statements).
  returned: always
  type: list
  elements: str
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.disaster import strike


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        table={"type": "str", "default": "dbops_drill_writes"},
        collection={"type": "str", "default": "dbops_drill_writes"},
        confirm={"type": "bool", "default": False},
    ))


def build_strike(params: dict, check_mode: bool) -> dict:
    if not params["confirm"]:
        raise ValueError("drill_disaster drops data on purpose: set confirm: true to let it")
    return {"postgres_dsn": params["postgres_dsn"], "table": params["table"], "mongodb_uri": params["mongodb_uri"],
            "mongodb_database": params["mongodb_database"], "collection": params["collection"],
            "check_mode": check_mode}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("postgres_dsn", "mongodb_uri")],
                           required_by={"mongodb_uri": "mongodb_database"})
    module_runner.run_module(
        module, engine="the drill's disaster", engine_import=ENGINE, build=build_strike,
        run=lambda arguments: strike(**arguments),
        result=lambda outcome: {**module_runner.engine_result(outcome), "queries": list(outcome.statements)})


if __name__ == "__main__":
    main()
