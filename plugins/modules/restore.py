#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Restore PostgreSQL and MongoDB to a recovery point, a time or an LSN
version_added: 0.1.0
description:
  - Everything that can make the restore impossible is checked before anything is touched, and fails with a clear
    message and nothing changed; an unknown recovery point, a target before the oldest backup or after the newest
    archive, a gap in the WAL archive, or a backup whose objects fail their sha256 or C(pg_verifybackup).
  - PostgreSQL, on the database host (O(pgdata)); picks the newest base backup consistent before the target,
    fetches and checks it, extracts it beside the data directory and verifies it with C(pg_verifybackup). It then
    stops the server, renames the data directory aside (kept, never deleted by the module; RV(moved_aside)), puts
    the backup in its place with C(recovery.signal), the C(recovery_target_*) settings,
    C(recovery_target_action=promote) and the archive's C(restore_command), and starts it. The module polls
    C(pg_is_in_recovery()) until the server is promoted while it checks that the postmaster is alive. A target
    the WAL never reaches makes PostgreSQL stop with FATAL, which is reported.
  - Before that, when the server still runs, the current WAL is switched and archived, so everything committed up
    to the restore is in the archive. After promotion a WAL switch on the new timeline must reach the repository;
    that is part of RV(verified).
  - MongoDB, with O(mongodb_uri); restores the dump preceding the target into the server and replays the captured
    changes up to the target, then verifies counts and content hashes.
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
    description: Validates the target, chooses the backup and checks the archive, then returns the plan. Nothing is
      fetched, stopped or moved.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: A restore is an action; every run without check mode restores again.
    support: none
options:
  target_timeline:
    description:
      - C(recovery_target_timeline). Defaults to the recovery point's timeline for O(target_name), V(latest)
        otherwise.
    type: str
  backup_id:
    description:
      - Restore from this base backup instead of the newest one preceding the target.
    type: str
  log_file:
    description:
      - Server log file while the restored server starts. By default the file the running postmaster logs to, or a
        file beside the data directory.
    type: path
  progress_file:
    description:
      - A file on this host where the PostgreSQL restore records how far it got (bytes of the base backup fetched,
        then extracting, recovering, done), and the MongoDB restore (bytes of the dump fetched, documents loaded of
        the dump's counts, then the phase), for M(sevenp.dbops.progress_info). Set by the action plugin with
        O(progress_interval); not written when omitted.
    type: path
  progress_interval:
    description:
      - Handled on the controller by the collection's action plugin, never sent to the host - seconds between two
        progress lines of a restore (for PostgreSQL the bytes fetched of the base backup's size, bytes per second,
        ETA, then the phase; for MongoDB the bytes fetched, the documents loaded of the dump's, documents per
        second, ETA, then the phase). With a value above 0 (and not in check mode, and without the task's own
        C(async)) the module runs as an asynchronous job, writes its progress to a file in the job's directory and
        the action plugin reads it while the restore runs. V(0) runs the module as one plain execution.
    type: float
    default: 0
notes:
  - Run on the database host, usually as root with O(pg_os_user) set to the cluster's owner.
  - If the server is managed by systemd, stop the unit first and start it after the restore; the module uses
    C(pg_ctl).
  - Tablespaces outside the data directory are not supported.
seealso:
  - module: sevenp.dbops.recovery_point
  - module: sevenp.dbops.backup
"""

EXAMPLES = r"""
- name: Back to the point taken before the migration
  sevenp.dbops.restore:
    target_name: before_2024_013
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    pgdata: /var/lib/postgresql/15/main
    pg_os_user: postgres
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: /srv/backups/dbops
  register: restored

- name: PostgreSQL as it was at 14:01 UTC
  sevenp.dbops.restore:
    target_time: "2026-11-25T14:01:00Z"
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    pgdata: /var/lib/postgresql/15/main
    pg_os_user: postgres
    repository: s3://backups/education-platform

- name: Is the recovery point reachable? (plan only)
  sevenp.dbops.restore:
    target_name: before_disaster
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    pgdata: /var/lib/postgresql/15/main
    repository: /srv/backups/dbops
  check_mode: true
"""

RETURN = r"""
queries:
  description: The statements run on the servers.
  returned: always
  type: list
  elements: str
changed:
  description: Whether anything was restored (or would be, in check mode).
  returned: always
  type: bool
recovered_to:
  description:
    - Per engine (C(postgres), C(mongodb)), where recovery stopped; for PostgreSQL the target, the LSN where the new
      timeline begins, the last replayed commit time and the server's own "recovery stopping" log line.
  returned: always
  type: dict
duration_ms:
  description: Milliseconds the restore took, until promotion and verification.
  returned: always
  type: int
verified:
  description:
    - PostgreSQL; promoted onto a new timeline, stopped at the target, and archiving works on the new timeline.
      MongoDB; counts and content hashes match. False in check mode.
  returned: always
  type: bool
backup_id:
  description: The PostgreSQL base backup restored from.
  returned: when PostgreSQL is restored
  type: str
moved_aside:
  description: Where the previous data directory was moved (kept until you remove it).
  returned: when a data directory existed
  type: str
timeline:
  description: The PostgreSQL timeline after promotion.
  returned: when PostgreSQL is restored
  type: int
plan:
  description: Per engine, the target, backup, WAL range and recovery settings used (or that would be used).
  returned: always
  type: dict
steps:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
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
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.restore import RestoreRequest, run_restore
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.restore.pitr_plan import PgTargetSpec
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        **RESTORE_TARGET_SPEC,
        target_timeline={"type": "str"},
        backup_id={"type": "str"},
        log_file={"type": "path"},
        progress_file={"type": "path"},
        progress_interval={"type": "float", "default": 0},
    ), repository=True, postgres_server=True)


def build_request(params: dict, check_mode: bool) -> RestoreRequest:
    return RestoreRequest(
        repository=repository_options(params), databases=DatabaseConnections.from_options(params),
        target=PgTargetSpec(**target_fields(params), timeline=params["target_timeline"],
                            backup_id=params["backup_id"]),
        mongodb_target_timestamp=params["mongodb_target_timestamp"],
        cluster=ClusterOnHost(pgdata=params["pgdata"] or "", bin_dir=params["pg_bin_dir"],
                              os_user=params["pg_os_user"], log_file=params["log_file"]),
        restore_command=params["restore_command"], timeout=params["timeout"], check_mode=check_mode,
        progress_file=params["progress_file"],
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        required_one_of=REQUIRED_ONE_OF,
        required_by={"mongodb_uri": "mongodb_database"},
        supports_check_mode=True,
    )
    # pgdata is needed only to restore PostgreSQL; the engine says so when it is missing.
    module_runner.run_module(
        module, engine="the restore engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_restore(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
