#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: wal_archiving
short_description: Turn PostgreSQL continuous archiving on or off and report its health
version_added: 0.1.0
description:
  - Sets C(archive_mode), C(archive_command), C(restore_command) and optionally C(archive_timeout) with
    C(ALTER SYSTEM) and reloads the configuration.
  - C(archive_mode) only changes at a restart; the module restarts the server with C(pg_ctl) (as O(pg_os_user) when
    run as root) exactly when C(archive_mode) has to change and O(allow_restart) permits it.
  - A setting given on the server's command line (C(-c), C(pg_ctl -o)) overrides C(ALTER SYSTEM); the module detects
    it and fails instead of reporting a change that has no effect.
  - Returns C(pg_stat_archiver) with a verdict, and with O(state=status) and O(repository) the WAL archive's chain
    check from the oldest base backup.
  - With O(archiver_dir), first installs the collection's WAL archiver there (an entry point, the few engine files it
    imports, and its configuration with the repository and credentials, mode 0600, owned by O(pg_os_user)), checks
    that the cluster's OS user can write, read and delete in the O(repository) with it, and uses it for
    O(archive_command) and O(restore_command) unless they are given. Files are rewritten only when they differ.
  - The archiver copies each WAL segment with its sha256 (fsync and atomic rename for a local repository), succeeds
    when the same segment is already archived with the same content, refuses different content, and exits non-zero
    on any failure so PostgreSQL keeps the segment and retries. Its restore command reports a segment missing only
    when it truly is, and retries transient storage errors, then stops recovery, rather than ending it early.
  - With O(archive_spool_dir), C(archive_command) only hands each segment to a long-lived uploader (returned as
    RV(uploader_command); the caller runs it as a service, as the C(sevenp.dbops.wal_archiving) role does) and
    exits 0 once the uploader reports that very segment stored with its sha256. The uploader keeps
    O(upload_workers) uploads in flight, reading ahead the segments PostgreSQL has marked ready, so archiving is
    no longer one upload (and one Python with boto3) per segment at a time. No WAL is copied into the spool, a
    segment is acknowledged only once it is in the repository. When no uploader runs, C(archive_command) uploads
    the segment itself after a grace period. The C(restore_command) then takes segments the archiver prefetched
    (sha256-checked) with a Python that imports almost nothing, and hands every other call to the archiver.
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
    description: Returns the C(ALTER SYSTEM) statements and whether a restart would happen; changes nothing.
    support: full
  diff_mode:
    description: Returns the configuration lines that change (in check mode, would change) in diff mode.
    support: full
  idempotent:
    description: Settings already in place are left alone and the server is not restarted.
    support: full
options:
  state:
    description:
      - V(enabled) sets C(archive_mode=on) and the commands; V(disabled) sets C(archive_mode=off); V(status) only
        reports.
    type: str
    choices: [enabled, disabled, status]
    default: enabled
  archive_command:
    description:
      - The C(archive_command). With O(state=enabled), required unless O(archiver_dir) is given.
    type: str
  restore_command:
    description:
      - The C(restore_command) recovery uses to fetch archived WAL (by default the installed archiver's, with
        O(archiver_dir)).
    type: str
  archiver_dir:
    description:
      - Install the collection's WAL archiver in this directory (C(bin/), C(lib/), C(conf/)) and archive with it.
      - Must be readable by O(pg_os_user); a directory under a private home directory is not.
    type: path
  archiver_python:
    description:
      - The Python that runs the archiver as the cluster's OS user (3.11 or later; boto3 for S3 repositories, on
        Debian the C(python3-boto3) package). The host's system Python by default, because a virtualenv the OS user
        cannot enter does not work.
    type: path
    default: /usr/bin/python3
  archiver_config:
    description:
      - Path of the archiver's configuration file; C(<archiver_dir>/conf/archiver.json) by default. Use one per
        cluster when several clusters on a host archive.
    type: path
  archive_spool_dir:
    description:
      - Archive through the long-lived uploader; the directory where C(archive_command) and the uploader exchange
        requests and verdicts (small status files only). One per cluster; created for O(pg_os_user).
      - Needs O(archiver_dir). Start RV(uploader_command) as a service (systemd or the installed
        C(bin/dbops-supervise)) as O(pg_os_user).
    type: path
  upload_workers:
    description:
      - How many segments the uploader uploads at a time (with O(archive_spool_dir)).
    type: int
    default: 4
  push_retry_seconds:
    description:
      - How long one archive attempt retries transient S3 errors before it fails (PostgreSQL then retries the
        segment itself).
    type: float
    default: 30
  fetch_retry_seconds:
    description:
      - How long the restore command retries transient S3 errors before it makes recovery stop with an error.
    type: float
    default: 600
  archive_timeout:
    description:
      - C(archive_timeout) in seconds (V(60)); forces a segment switch at least that often when there is traffic,
        bounding how much committed work is only in the current, unarchived segment.
    type: str
  allow_restart:
    description:
      - Restart PostgreSQL when C(archive_mode) has to change. Otherwise the module warns that a restart is needed.
    type: bool
    default: true
  log_file:
    description:
      - Server log file for C(pg_ctl restart). By default the file the running postmaster logs to.
    type: path
notes:
  - O(repository) is needed with O(archiver_dir); with O(state=status) it is used to check the WAL archive for gaps.
seealso:
  - module: sevenp.dbops.backup
"""

EXAMPLES = r"""
- name: Install the collection's archiver and archive WAL to S3 with it (what the wal_archiving role does)
  sevenp.dbops.wal_archiving:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    pgdata: /var/lib/postgresql/15/main
    pg_os_user: postgres
    archiver_dir: /opt/sevenp-dbops
    repository: s3://backups/education-platform
    s3_access_key: "{{ vault_s3_access_key }}"
    s3_secret_key: "{{ vault_s3_secret_key }}"
    archive_timeout: "60"

- name: Use an archive command of your own
  sevenp.dbops.wal_archiving:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    archive_command: /usr/local/bin/ship-wal %p %f

- name: Is archiving healthy and the archive gap-free?
  sevenp.dbops.wal_archiving:
    state: status
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    repository: /srv/backups/dbops
  register: archiving
"""

RETURN = r"""
changed:
  description: Whether a setting was changed or the server restarted (or would be, in check mode).
  returned: always
  type: bool
restarted:
  description: Whether PostgreSQL was restarted because C(archive_mode) changed.
  returned: always
  type: bool
restart_needed:
  description: Whether C(archive_mode) had to change (a restart is or was needed).
  returned: always
  type: bool
before:
  description: The managed settings before the run.
  returned: always
  type: dict
after:
  description: The managed settings after the run.
  returned: always
  type: dict
archiver:
  description: C(pg_stat_archiver) with C(failing) true when the last failure is newer than the last success.
  returned: always
  type: dict
wal_chain:
  description: The WAL archive's chain check (with O(state=status) and O(repository)).
  returned: when O(state=status) and O(repository) are given
  type: dict
archive_command:
  description: The archive command in force (or that would be).
  returned: with O(state=enabled)
  type: str
restore_command:
  description: The restore command in force (or that would be).
  returned: with O(state=enabled)
  type: str
uploader_command:
  description: The uploader to run as a service, as O(pg_os_user) (with O(archive_spool_dir)); null otherwise.
  returned: always
  type: list
  elements: str
archiver_files:
  description: Files of the archiver installation written (or that would be) by this run.
  returned: always
  type: list
  elements: str
queries:
  description: The statements run (or that would run, in check mode).
  returned: always
  type: list
  elements: str
planned:
  description: The settings this run writes with C(ALTER SYSTEM) (in check mode, would write), by name.
  returned: always
  type: dict
  sample: {"archive_mode": "on", "archive_command": "/usr/bin/true %p"}
diff:
  description:
    - In diff mode, the managed settings as C(postgresql.auto.conf) lines (C(name = 'value')) - in force before the
      run, and with the values the run writes (in check mode, would write) - so C(--check --diff) shows the
      configuration lines that change.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.server.control import ClusterOnHost
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiving_setup import (
        ArchivingRequest,
        configure_archiving,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        state={"type": "str", "default": "enabled", "choices": ["enabled", "disabled", "status"]},
        archive_command={"type": "str"},
        restore_command={"type": "str"},
        archive_timeout={"type": "str"},
        allow_restart={"type": "bool", "default": True},
        log_file={"type": "path"},
        archiver_dir={"type": "path"},
        archiver_python={"type": "path", "default": "/usr/bin/python3"},
        archiver_config={"type": "path"},
        push_retry_seconds={"type": "float", "default": 30},
        fetch_retry_seconds={"type": "float", "default": 600},
        archive_spool_dir={"type": "path"},
        upload_workers={"type": "int", "default": 4},
    ), repository=True, postgres_server=True)


def build_request(params: dict, check_mode: bool) -> ArchivingRequest:
    # Not required in the argument spec, so that DBOPS_POSTGRES_DSN can supply it.
    if not params["postgres_dsn"]:
        raise ValueError("postgres_dsn is required (or set DBOPS_POSTGRES_DSN)")
    return ArchivingRequest(
        postgres_dsn=params["postgres_dsn"], state=params["state"], archive_command=params["archive_command"],
        restore_command=params["restore_command"], archive_timeout=params["archive_timeout"],
        cluster=ClusterOnHost(pgdata=params["pgdata"] or "", bin_dir=params["pg_bin_dir"],
                              os_user=params["pg_os_user"], log_file=params["log_file"]),
        allow_restart=params["allow_restart"],
        repository=repository_options(params) if params["repository"] else None,
        archiver_dir=params["archiver_dir"], archiver_python=params["archiver_python"],
        archiver_config=params["archiver_config"], push_retry_seconds=params["push_retry_seconds"],
        fetch_retry_seconds=params["fetch_retry_seconds"], spool_dir=params["archive_spool_dir"],
        upload_workers=params["upload_workers"], check_mode=check_mode,
    )


def setting_lines(settings: dict) -> str:
    """Settings as the lines ALTER SYSTEM writes to postgresql.auto.conf, sorted so the diff pairs them up."""
    return "".join(f"{name} = '{str(value).replace(chr(39), chr(39) * 2)}'\n"
                   for name, value in sorted((settings or {}).items()))


def settings_diff(result: dict) -> dict:
    """The configuration lines the run changes (in check mode, would change): the managed settings in force before,
    and the same with what the run writes (`planned`). The values read back after a run would hide, in check mode
    and while archive_mode waits for a restart, the lines that change."""
    before = dict(result.get("before") or {})
    after = {**before, **(result.get("planned") or {})}
    return {"before_header": "postgresql.auto.conf (managed settings, in force)",
            "after_header": "postgresql.auto.conf (managed settings, after this run)",
            "before": setting_lines(before), "after": setting_lines(after)}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(),
                           required_if=[("state", "enabled", ("archive_command", "archiver_dir"), True)],
                           required_by={"archiver_dir": "repository", "archive_spool_dir": "archiver_dir"},
                           supports_check_mode=True)
    module_runner.run_module(
        module, engine="the WAL archiving setup", engine_import=ENGINE, build=build_request,
        run=lambda request: configure_archiving(request),  # pylint: disable=unnecessary-lambda
        diff=settings_diff)


if __name__ == "__main__":
    main()
