#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: object_restore
short_description: Restore single tables and collections from a point in time beside the live ones, and copy them back
version_added: 0.1.0
description:
  - "PostgreSQL: the base backup covering the target is recovered into a throwaway cluster on a free port of
    127.0.0.1 under a temporary directory (never the live data directory; archiving off), promoted at the target,
    and the tables in O(tables) are dumped from it into O(side_schema) of the live database (definition, indexes,
    constraints, owned sequences, grants, rows). The throwaway cluster is stopped and removed afterwards, also on
    failure. The live cluster keeps running."
  - "MongoDB: the database is restored as of the target (the dump that covers it and the change archive up to it)
    into O(side_database), with options, validators and indexes, and verified."
  - "With O(copy_back): a table missing from the live database is moved from the side schema into its own schema
    (definition, indexes, constraints, grants, owned sequences and rows); a table present gets its rows replaced in
    one transaction under an ACCESS EXCLUSIVE lock, with triggers and foreign-key actions off while the rows are
    swapped, and its owned sequences moved past the rows put back. A collection missing from the live database is
    created with the side copy's options (validator included), its documents and its indexes; a collection present
    gets its documents deleted and inserted again from the side copy (not atomic: run it in read-only mode)."
  - Both databases are planned first (every WAL file recovery needs is checked; the MongoDB dump and archive that
    reach the target are chosen); a table or collection that did not exist at the target fails the run before
    anything is copied back. The side copies stay for inspection.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
  - sevenp.dbops.postgres_server
  - sevenp.dbops.restore_target
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Validates the target, checks the archive and chooses the backups, then returns the plan. Nothing is
      fetched, started or copied.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Each run restores the side copies again (and copies back again with O(copy_back)); the result
      is the same state.
    support: none
options:
  tables:
    description:
      - PostgreSQL tables to restore, as V(schema.table) (V(public) when no schema is given).
    type: list
    elements: str
    default: []
  collections:
    description:
      - MongoDB collections of O(mongodb_database) to restore.
    type: list
    elements: str
    default: []
  side_schema:
    description:
      - The schema of the live PostgreSQL database the tables are restored into. An earlier side copy of the same
        table there is replaced.
    type: str
    default: dbops_recovered
  side_database:
    description:
      - The MongoDB database the database is restored into; by default V(<mongodb_database>_recovered). Its
        collections are replaced.
    type: str
  copy_back:
    description:
      - Put the restored tables and collections back into the live databases (see the description).
    type: bool
    default: false
notes:
  - Run on the database host (the throwaway cluster runs there as O(pg_os_user)); O(pgdata) is not used.
  - It needs room for a copy of the base backup under the temporary directory.
  - Foreign keys of other tables that pointed to a dropped table were dropped with it and are not recreated.
seealso:
  - module: sevenp.dbops.restore
  - module: sevenp.dbops.recovery_point
"""

EXAMPLES = r"""
- name: The orders table and the events collection as they were at the recovery point, put back
  sevenp.dbops.object_restore:
    repository: /var/backups/dbops
    target_name: before-2024.020
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    pg_os_user: postgres
    tables: [public.orders]
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    collections: [events]
    copy_back: true
  register: restored

- name: Only a side copy to compare with (nothing in the live tables changes)
  sevenp.dbops.object_restore:
    repository: /var/backups/dbops
    target_time: "2026-11-25T14:01:00Z"
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    tables: [public.prices]
"""

RETURN = r"""
queries:
  description: The statements run on the live databases (and on the throwaway cluster).
  returned: always
  type: list
  elements: str
changed:
  description: Whether anything was restored (or would be, in check mode).
  returned: always
  type: bool
objects:
  description: Per table or collection, C(kind), C(name), C(rows) restored, C(side) (where the side copy is),
    C(copied_back) and, when copied back, C(how) (V(recreated) or V(rows replaced) / V(documents replaced)).
  returned: always
  type: list
  elements: dict
plan:
  description: Per database, the target, the backup and the archive used (or that would be used).
  returned: always
  type: dict
steps:
  description: What the throwaway cluster's recovery did, in order.
  returned: always
  type: list
  elements: str
duration_ms:
  description: Milliseconds the run took.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options
from ansible_collections.sevenp.dbops.plugins.module_utils.restore_target_args import (
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
    RESTORE_TARGET_SPEC,
    target_fields,
)

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.object_restore import (
        ObjectRestoreRequest,
        run_object_restore,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        **RESTORE_TARGET_SPEC,
        tables={"type": "list", "elements": "str", "default": []},
        collections={"type": "list", "elements": "str", "default": []},
        side_schema={"type": "str", "default": "dbops_recovered"},
        side_database={"type": "str"},
        copy_back={"type": "bool", "default": False},
    ), repository=True, postgres_server=True)


def build_request(params: dict, check_mode: bool) -> ObjectRestoreRequest:
    return ObjectRestoreRequest(
        repository=repository_options(params), databases=DatabaseConnections.from_options(params),
        target=PgTargetSpec(**target_fields(params)),
        mongodb_target_timestamp=params["mongodb_target_timestamp"], tables=tuple(params["tables"]),
        collections=tuple(params["collections"]), side_schema=params["side_schema"],
        side_database=params["side_database"], copy_back=params["copy_back"],
        cluster=ClusterOnHost(pgdata="", bin_dir=params["pg_bin_dir"], os_user=params["pg_os_user"]),
        restore_command=params["restore_command"], timeout=params["timeout"], check_mode=check_mode,
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        required_one_of=REQUIRED_ONE_OF,
        required_by={"mongodb_uri": "mongodb_database"},
        supports_check_mode=True,
    )
    module_runner.run_module(
        module, engine="the object restore engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_object_restore(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
