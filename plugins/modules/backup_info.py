#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_info
short_description: Report a backup repository's catalog and the health of the WAL archive and the change capture
version_added: 0.2.0
description:
  - Reads the O(repository)'s catalog (backups, recovery points, archive ranges) and returns it, with the checks
    C(sevenp.dbops.backup) makes after a backup, without taking one.
  - With O(postgres_dsn), reports C(pg_stat_archiver) and checks that the WAL archive has no gap from the oldest base
    backup to the newest archived segment.
  - With O(mongodb_database), reports the MongoDB change archive (chunks, begin, end, gaps, checkpoint) and the
    change capture's health; with O(mongodb_uri) as well, its lag behind the server and whether the capture service
    installed on this host under O(capture_install_root) runs.
  - With O(keep), returns the retention C(sevenp.dbops.backup) would apply, and deletes nothing.
  - Replaces C(sevenp.dbops.backup) with O(sevenp.dbops.backup#module:state=list), which still works and is
    deprecated.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.info_module
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
options:
  keep:
    description:
      - The retention to preview, as O(sevenp.dbops.backup#module:keep) of C(sevenp.dbops.backup) would apply it
        after a backup (the newest O(keep) full backups per engine). Nothing is deleted.
    type: int
  check_wal_chain:
    description:
      - Check the WAL archive for gaps from the oldest base backup to the newest archived segment.
    type: bool
    default: true
  capture_install_root:
    description:
      - Where M(sevenp.dbops.change_capture) installs the capture services on this host
        (O(sevenp.dbops.change_capture#module:install_root)), to report whether the one of O(mongodb_database)
        runs. Empty to skip that check.
    type: path
    default: /var/lib/sevenp-dbops
notes:
  - Runs on any host that reaches the repository (and the databases, for the archiver's state).
seealso:
  - module: sevenp.dbops.backup
  - module: sevenp.dbops.recovery_point
  - name: Repository layout
    description: Keys, checksums and catalog of a backup repository.
    link: https://example.invalid/sevenp/dbops/docs/repository-layout.md
"""

EXAMPLES = r"""
- name: What is in the repository, and is the WAL archive healthy?
  sevenp.dbops.backup_info:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_database: education_platform
    repository: /srv/backups/dbops
  register: catalog

- name: Fail when segments are missing from the WAL archive
  ansible.builtin.assert:
    that: catalog.wal_chain.ok
    fail_msg: "WAL archive gap: {{ catalog.wal_chain.missing }}"

- name: What retention with keep=7 would remove
  sevenp.dbops.backup_info:
    repository: s3://backups/education-platform
    s3_endpoint_url: https://minio.internal:9000
    s3_access_key: "{{ vault_s3_access_key }}"
    s3_secret_key: "{{ vault_s3_secret_key }}"
    keep: 7
  register: retention_preview
"""

RETURN = r"""
queries:
  description: The commands run to read the state, without passwords (none for a repository read).
  returned: always
  type: list
  elements: str
catalog:
  description: The repository's catalog.
  returned: always
  type: dict
  contains:
    backups:
      description: Every backup (id, engine, kind, size, LSNs or cluster time), oldest first.
      type: list
      elements: dict
    recovery_points:
      description: Every recovery point (name, time, PostgreSQL LSN, MongoDB cluster time).
      type: list
      elements: dict
wal_chain:
  description:
    - The WAL archive from the oldest base backup's first segment to the newest archived one; RV(wal_chain.ok) is
      false when segments are missing (listed in RV(wal_chain.missing)).
  returned: when O(postgres_dsn) is given
  type: dict
  contains:
    ok:
      description: No segment is missing.
      type: bool
    missing:
      description: The missing segments (at most 50).
      type: list
      elements: str
    segments_behind:
      description: Complete segments between the newest archived one and the segment the server is writing.
      type: int
archiver:
  description: C(pg_stat_archiver) with a verdict (C(failing) is true when the last failure is newer than the last
    success).
  returned: when O(postgres_dsn) is given
  type: dict
mongodb_capture:
  description:
    - The MongoDB change archive at a glance (chunks, begin, end, gaps, checkpoint) and the capture's health -
      C(running) (null when unknown, without O(mongodb_uri) to name the service by), C(covered_until), C(covered_wall),
      C(lag_seconds) behind the server (with O(mongodb_uri)), C(healthy), C(problems) and a C(hint) saying what to run.
  returned: when O(mongodb_database) is given
  type: dict
retention:
  description: What retention with O(keep) would remove.
  returned: when O(keep) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.backup import BackupRequest, run_backup
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        keep={"type": "int"},
        check_wal_chain={"type": "bool", "default": True},
        capture_install_root={"type": "path", "default": "/var/lib/sevenp-dbops"},
    ), repository=True)


def build_request(params: dict, check_mode: bool) -> BackupRequest:
    if params["keep"] is not None and params["keep"] < 1:
        raise ValueError(f"keep must be at least 1, not {params['keep']}")
    return BackupRequest(
        repository=repository_options(params), state="list", databases=DatabaseConnections.from_options(params),
        keep=params["keep"], check_wal_chain=params["check_wal_chain"],
        capture_install_root=params["capture_install_root"] or None, check_mode=check_mode,
    )


def info_result(outcome) -> dict:
    """The catalog and the health checks; an info module never reports a change."""
    values = module_runner.engine_result(outcome)
    keep = ("queries", "catalog", "wal_chain", "archiver", "mongodb_capture", "retention", "warnings")
    return {key: values[key] for key in keep if key in values}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module_runner.run_module(
        module, engine="the backup engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_backup(request), result=info_result)  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
