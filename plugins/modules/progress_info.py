#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: progress_info
short_description: Read the progress records of long work running on PostgreSQL and MongoDB
version_added: 0.2.0
description:
  - "Reads, once and without changing anything, how far long work has got, from the records that work keeps where
    it runs: the backfill checkpoints of C(sevenp.dbops.migrate) (C(dbops.backfill_progress) in PostgreSQL,
    C(dbops_progress) in the MongoDB database) against the table's or collection's estimated size; a base
    backup's C(pg_stat_progress_basebackup); the C(COPY) of a dump or an initial copy in C(pg_stat_progress_copy);
    each logical replication slot's distance behind the server's WAL position (a cutover's sync); and the
    progress file of a restore or a MongoDB dump (documents of the estimated total, bytes fetched, the phase)."
  - The collection's action plugins run it every few seconds while the work itself runs as an asynchronous job,
    and print each record's percent, rate and ETA (see C(progress_interval) of M(sevenp.dbops.migrate),
    M(sevenp.dbops.backup) and M(sevenp.dbops.replication_sync)).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.info_module
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
options:
  sources:
    description:
      - Which records to read. V(backfills) from both databases; V(base_backup), V(copy) and V(replication) from
        PostgreSQL.
    type: list
    elements: str
    choices: [backfills, base_backup, copy, replication]
    default: [backfills, base_backup, copy, replication]
  progress_file:
    description:
      - A progress file on this host written by work that keeps no record in a database (M(sevenp.dbops.restore)
        with its O(sevenp.dbops.restore#module:progress_file), a MongoDB dump of M(sevenp.dbops.backup) with its
        O(sevenp.dbops.backup#module:progress_file)); its records are returned first. A missing file reads as no
        record.
    type: path
notes:
  - Backfill totals are the planner's estimate (C(pg_class.reltuples), C(estimatedDocumentCount)), so a percent is
    approximate and never shows 100 before the backfill records itself done. So are a MongoDB dump's (its
    collections' C(estimatedDocumentCount)).
seealso:
  - module: sevenp.dbops.migrate
  - module: sevenp.dbops.backup
"""

EXAMPLES = r"""
- name: How far are the running backfills?
  sevenp.dbops.progress_info:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    sources: [backfills]
  register: progress
"""

RETURN = r"""
records:
  description: One record per piece of work found, running or finished in the last ten minutes.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "backfill", "name": "2024.011 fill_duration_minutes", "unit": "rows", "done": 4500,
            "total": 10000, "remaining": null, "status": "running", "detail": "content.courses",
            "started_at": "2026-12-03T10:00:00.000000Z", "updated_at": "2026-12-03T10:00:04.000000Z"}]
  contains:
    kind:
      description: V(backfill), V(base_backup), V(copy), V(replication); from a progress file V(restore),
        V(fetch) (a MongoDB restore's download) or V(dump) (a MongoDB dump).
      type: str
    name:
      description: What the work is (the set's version and the backfill's name, the slot's name, a pid, the
        engine and database or backup of a dump or restore).
      type: str
    unit:
      description: V(rows), V(documents) or V(bytes).
      type: str
    done:
      description: How much is done (null for replication).
      type: int
    total:
      description: The total, where known (an estimate for backfills).
      type: int
    remaining:
      description: For replication, the bytes the replica is behind.
      type: int
    status:
      description: V(running) or V(done).
      type: str
queries:
  description: The statements run.
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
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.progress_info import (
        ProgressRequest,
        read_progress,
    )

SOURCES = ["backfills", "base_backup", "copy", "replication"]


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        sources={"type": "list", "elements": "str", "choices": SOURCES, "default": SOURCES},
        progress_file={"type": "path"},
    ))


def build_request(params: dict, check_mode: bool) -> ProgressRequest:
    del check_mode  # reads only: the same in check mode
    return ProgressRequest(databases=DatabaseConnections.from_options(params), sources=tuple(params["sources"]),
                           progress_file=params["progress_file"])


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_by={"mongodb_uri": "mongodb_database"},
                           supports_check_mode=True)
    module_runner.run_module(
        module, engine="the progress reader", engine_import=ENGINE, build=build_request,
        run=lambda request: read_progress(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
