#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Take PostgreSQL and MongoDB backups into a repository, or list the repository's catalog
version_added: 0.1.0
description:
  - With O(state=present) and O(postgres_dsn), takes a PostgreSQL backup. O(kind=base) runs C(pg_basebackup) in tar
    format with server-side compression (zstd with worker threads, or lz4) and the backup manifest, checks every
    file of the compressed tars against the manifest's sha256 in one streaming pass (no extraction) and the WAL with
    C(pg_waldump), and stores it in the O(repository) with a sha256 per object. O(kind=logical) runs
    C(pg_dump -Fd -j).
  - With O(mongodb_uri), takes a dump of O(mongodb_database) in mongodump's layout (BSON and C(metadata.json) per
    collection, gzip), consistent as of a recorded cluster time.
  - A backup is written to the catalog only once every object is stored, so the catalog never lists a partial
    backup.
  - After a PostgreSQL backup the module reports C(pg_stat_archiver) and checks that the WAL archive has no gap
    from the oldest base backup to the newest archived segment; problems are returned in RV(wal_chain) and as
    warnings.
  - O(state=list) returns the catalog (backups, recovery points, archive ranges) and the same archive checks, and
    changes nothing; it is deprecated in favour of C(sevenp.dbops.backup_info).
  - With O(keep), applies retention after the backup; the newest O(keep) full backups per engine stay, and only
    the archive no kept backup needs is removed.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
  - sevenp.dbops.postgres_server
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Plans the backup (the commands that would run) without taking it or writing to the repository.
    support: full
  diff_mode:
    support: none
  idempotent:
    description:
      - O(state=present) takes a new backup on every run, by design, and reports RV(changed=true).
      - O(state=list) never changes anything.
    support: partial
options:
  state:
    description:
      - V(present) takes a backup.
      - V(list) reports the catalog and the archive's health. Deprecated, to be removed in 1.0.0; use
        C(sevenp.dbops.backup_info). It is not listed as a choice, so that the option only names states of the
        backup itself, but it is still accepted.
    type: str
    default: present
  kind:
    description:
      - PostgreSQL backup kind. V(base) is a physical base backup usable for point-in-time recovery; V(logical) is
        a C(pg_dump) directory-format dump of the database named in O(postgres_dsn).
    type: str
    choices: [base, logical]
    default: base
  compression:
    description:
      - Compression of a base backup, done by the server while it reads (C(--compress=server-zstd) or
        C(server-lz4)).
    type: str
    choices: [zstd, lz4, none]
    default: zstd
  compression_level:
    description:
      - Compression level (zstd 1-22, lz4 1-12; for O(kind=logical) C(pg_dump -Z) 0-9). Defaults to a fast level.
    type: int
  workers:
    description:
      - zstd worker threads on the server for base backups, parallel jobs for logical dumps. V(0) uses the number
        of CPUs of the host the module runs on.
    type: int
    default: 0
  verify:
    description:
      - Check the base backup before it is stored, comparing every file of the compressed tars with the
        manifest's size and sha256 (read as a stream, not extracted), the manifest's own checksum, and the WAL
        with C(pg_waldump).
      - Restores always verify again with C(pg_verifybackup) before anything is touched.
    type: bool
    default: true
  staging_dir:
    description:
      - Directory for temporary files while a backup is prepared (the system temporary directory by default). Needs
        room for the compressed backup, plus the extracted data directory when O(verify=true).
    type: path
  keep:
    description:
      - Retention. After a successful backup, keep the newest O(keep) full backups per engine (PostgreSQL base
        backups, MongoDB dumps; PostgreSQL logical dumps are counted separately), delete older ones, and delete only
        archive (WAL segments, MongoDB change chunks) older than what the oldest kept backup needs. Recovery points
        that can no longer be reached are removed from the catalog.
      - With O(state=list), the retention that would apply is returned in RV(retention) and nothing is deleted.
    type: int
  check_wal_chain:
    description:
      - Check the WAL archive for gaps from the oldest base backup to the newest archived segment.
    type: bool
    default: true
  mongodb_consistency:
    description:
      - How the MongoDB dump is made consistent (see the MongoDB backup documentation); V(auto) picks the best the
        server offers.
    type: str
    choices: [auto, snapshot, oplog, change_stream, none]
    default: auto
  progress_file:
    description:
      - A file on this host where a MongoDB dump records how far it got (documents dumped of the collections'
        estimated count, collections done, bytes written), for M(sevenp.dbops.progress_info). Set by the action
        plugin with O(progress_interval); not written when omitted.
    type: path
  progress_interval:
    description:
      - Handled on the controller by the collection's action plugin, never sent to the host - seconds between two
        progress lines of a backup (percent, rate, ETA). With a value above 0 (and not in check mode, and without
        the task's own C(async)) the module runs as an asynchronous job and the action plugin reads, while it
        runs, the server's C(pg_stat_progress_basebackup) (O(kind=base)) or C(pg_stat_progress_copy)
        (O(kind=logical), bytes and rows so far, no total) for PostgreSQL, and the progress file of a MongoDB dump
        (documents of the estimated total) written in the job's directory. V(0) runs the module as one plain
        execution.
    type: float
    default: 0
notes:
  - Runs on the database host or any host that reaches the databases and the repository; O(pgdata), when given, is
    only checked against the server's C(data_directory).
  - Point-in-time recovery needs continuous archiving, set up with the C(sevenp.dbops.wal_archiving) role.
seealso:
  - module: sevenp.dbops.recovery_point
  - module: sevenp.dbops.restore
  - name: Repository layout
    description: Keys, checksums and catalog of a backup repository.
    link: https://example.invalid/sevenp/dbops/docs/repository-layout.md
"""

EXAMPLES = r"""
- name: Base backup of PostgreSQL to S3, keeping the newest 7
  sevenp.dbops.backup:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    repository: s3://backups/education-platform
    s3_endpoint_url: https://minio.internal:9000
    s3_access_key: "{{ vault_s3_access_key }}"
    s3_secret_key: "{{ vault_s3_secret_key }}"
    keep: 7
  register: base_backup

- name: Logical dump with 4 parallel jobs to a local repository
  sevenp.dbops.backup:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    kind: logical
    workers: 4
    repository: /srv/backups/dbops

- name: Dump MongoDB too, in mongodump's layout
  sevenp.dbops.backup:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: /srv/backups/dbops
"""

RETURN = r"""
queries:
  description: The commands run (or that would run, in check mode), without passwords.
  returned: always
  type: list
  elements: str
changed:
  description: Whether a backup was taken (or would be, in check mode), or retention deleted something.
  returned: always
  type: bool
backup_id:
  description: Id of the (first) backup taken; PostgreSQL's when both engines are backed up.
  returned: when O(state=present) and not in check mode
  type: str
  sample: postgres-base-20261125T140100123456Z-1a2b3c
backup_ids:
  description: Ids of every backup taken by this run.
  returned: always
  type: list
  elements: str
size_bytes:
  description: Bytes stored in the repository by this run.
  returned: always
  type: int
duration_ms:
  description: Milliseconds the run took.
  returned: always
  type: int
start_lsn:
  description: WAL position where the base backup starts (replay begins here).
  returned: when a base backup was taken
  type: str
  sample: 0/2000028
stop_lsn:
  description: WAL position where the base backup becomes consistent.
  returned: when a base backup was taken
  type: str
  sample: 0/2000100
timeline:
  description: Timeline of the base backup.
  returned: when a base backup was taken
  type: int
oplog_start:
  description: MongoDB cluster time where the dump's consistency window starts, as C({t, i}).
  returned: when a MongoDB dump was taken
  type: dict
oplog_end:
  description: MongoDB cluster time the dump is consistent at, as C({t, i}).
  returned: when a MongoDB dump was taken
  type: dict
backups:
  description: The backups taken by this run (id, engine, kind, size, LSNs or cluster time).
  returned: always
  type: list
  elements: dict
catalog:
  description: The repository's catalog (backups, recovery points, archive ranges).
  returned: when O(state=list)
  type: dict
wal_chain:
  description:
    - The WAL archive from the oldest base backup's first segment to the newest archived one; RV(wal_chain.ok) is
      false when segments are missing (listed in RV(wal_chain.missing)).
  returned: when PostgreSQL is involved
  type: dict
  contains:
    ok:
      description: No segment is missing.
      type: bool
    first:
      description: The first segment the oldest base backup needs.
      type: str
    last:
      description: The newest archived segment on the current timeline's history.
      type: str
    timeline:
      description: The timeline whose history was followed.
      type: int
    segments:
      description: Number of segments from RV(wal_chain.first) to RV(wal_chain.last).
      type: int
    missing:
      description: The missing segments (at most 50).
      type: list
      elements: str
    missing_count:
      description: How many segments are missing.
      type: int
    from_backup:
      description: The oldest base backup, where the check starts.
      type: str
    current_wal:
      description: The WAL segment the server is writing now (the archive's goal).
      type: str
    segments_behind:
      description: Complete segments between the newest archived one and RV(wal_chain.current_wal).
      type: int
archiver:
  description: C(pg_stat_archiver) with a verdict (C(failing) is true when the last failure is newer than the last
    success).
  returned: when O(postgres_dsn) is given
  type: dict
mongodb_capture:
  description: The MongoDB change archive at a glance (chunks, begin, end, gaps, checkpoint).
  returned: when MongoDB is involved
  type: dict
retention:
  description: What retention removed (or, with O(state=list) or in check mode, would remove).
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
        # No choices: "list" is deprecated (backup_info) and still accepted; build_request refuses anything else.
        state={"type": "str", "default": "present"},
        kind={"type": "str", "default": "base", "choices": ["base", "logical"]},
        compression={"type": "str", "default": "zstd", "choices": ["zstd", "lz4", "none"]},
        compression_level={"type": "int"},
        workers={"type": "int", "default": 0},
        verify={"type": "bool", "default": True},
        staging_dir={"type": "path"},
        keep={"type": "int"},
        check_wal_chain={"type": "bool", "default": True},
        mongodb_consistency={"type": "str", "default": "auto",
                             "choices": ["auto", "snapshot", "oplog", "change_stream", "none"]},
        progress_file={"type": "path"},
        progress_interval={"type": "float", "default": 0},
    ), repository=True, postgres_server=True)


STATES = ("present", "list")


def build_request(params: dict, check_mode: bool) -> BackupRequest:
    if params["state"] not in STATES:
        raise ValueError(f"state must be present (or the deprecated list), not {params['state']!r}")
    # keep=0 would silently mean "no retention" to the engine; the task almost certainly meant something else.
    if params["keep"] is not None and params["keep"] < 1:
        raise ValueError(f"keep must be at least 1, not {params['keep']}")
    return BackupRequest(
        repository=repository_options(params),
        state=params["state"], kind=params["kind"], databases=DatabaseConnections.from_options(params),
        pgdata=params["pgdata"], mongodb_consistency=params["mongodb_consistency"], compression=params["compression"],
        compression_level=params["compression_level"], workers=params["workers"], verify=params["verify"],
        staging_dir=params["staging_dir"], pg_bin_dir=params["pg_bin_dir"], keep=params["keep"],
        check_wal_chain=params["check_wal_chain"], check_mode=check_mode, progress_file=params["progress_file"],
    )


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_by={"mongodb_uri": "mongodb_database"},
                           supports_check_mode=True)
    if module.params["state"] == "list":
        module.deprecate("backup state=list is replaced by the sevenp.dbops.backup_info module",
                         version="1.0.0", collection_name="sevenp.dbops")
    module_runner.run_module(
        module, engine="the backup engine", engine_import=ENGINE, build=build_request,
        run=lambda request: run_backup(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
