#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_capture
short_description: Run the MongoDB change capture as a supervised service for point-in-time recovery
version_added: 0.1.0
description:
  - Keeps the change capture of O(mongodb_database) running on the module's host, so that the repository's change
    archive always reaches the present (what M(sevenp.dbops.recovery_point) waits for and
    M(sevenp.dbops.restore) replays). The C(sevenp.dbops.wal_archiving) role runs it when given the MongoDB
    variables.
  - O(state=started) installs the service under O(install_dir) (by default
    O(install_root)C(/dbops-change-capture-<database>-<cluster digest>), one directory per cluster and database),
    a copy of the engine files it needs, its configuration (URI and S3 keys, mode 0600), then starts it and waits
    until it captures. Where systemd runs (PID 1 is systemd) it is a systemd unit (restart on failure, start at
    boot, log in the journal); elsewhere the installed pid-file supervisor keeps it running (pid file
    C(run/capture.pid), restart on failure with a backoff, log file C(log/capture.log)). A running service whose
    files changed is restarted.
  - O(state=stopped) stops it and keeps its files; O(state=absent) stops it and removes its unit and installation
    directory. The archived changes in the repository are never removed.
  - O(state=status) reports whether it runs and the capture's health (how far the archive reaches, lag behind the
    server in seconds, gaps).
  - The service's environment is its own (C(HOME) is its installation directory), so nothing depends on the home
    directory of the user who started it.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
attributes:
  check_mode:
    description: Reports what would be installed, started, restarted, stopped or removed; changes nothing.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: A running service with unchanged files reports no change; so does a stopped or absent one.
    support: full
options:
  state:
    description:
      - V(started) installs and runs the service, V(stopped) stops it, V(absent) stops and removes it,
        V(status) only reports.
    type: str
    choices: [started, stopped, absent, status]
    default: started
  install_root:
    description: Directory under which each service gets its own directory (when O(install_dir) is not given).
    type: path
    default: /var/lib/sevenp-dbops
  install_dir:
    description: The service's installation directory; by default under O(install_root), named like the service.
    type: path
  name:
    description:
      - The service's name (systemd unit without C(.service)); by default
        C(dbops-change-capture-<database>-<8 hex digits of the URI's hosts and replica set>).
    type: str
  python:
    description:
      - The Python that runs the capture (3.11 or later, with pymongo, and boto3 for S3 repositories).
      - By default the interpreter running this module, which has pymongo since the module needs it.
    type: path
  os_user:
    description:
      - The OS user the service runs as (systemd C(User=), or C(runuser) for the supervisor when the module runs
        as root); by default the user running the module. It must be able to read O(python)'s installation.
    type: str
  local_owner:
    description: OS user that should own what a root service creates in a local repository.
    type: str
  service_manager:
    description: V(auto) is systemd where it runs, else the pid-file supervisor.
    type: str
    choices: [auto, systemd, supervisor]
    default: auto
  capture_mode:
    description: V(auto) tails the oplog where it is readable, else a change stream.
    type: str
    choices: [auto, oplog, change_stream]
    default: auto
  start_at:
    description:
      - Where an empty archive starts; V(latest_dump) is the newest dump's consistency point (V(now) when there is
        none), else V(now) or C(<seconds>.<increment>). Once chunks exist the capture resumes where they end.
    type: str
    default: latest_dump
  flush_interval:
    description: Seconds a captured change may wait in memory before it is written to the archive.
    type: float
    default: 1.0
  start_timeout:
    description: Seconds to wait, after a start, until the service captures.
    type: float
    default: 60
  unit_dir:
    description: Where the systemd unit is written.
    type: path
    default: /etc/systemd/system
notes:
  - The supervisor does not survive a reboot; rerun the playbook (or use systemd) to start it again.
seealso:
  - module: sevenp.dbops.recovery_point
  - module: sevenp.dbops.backup_info
"""

EXAMPLES = r"""
- name: Keep the change capture running
  sevenp.dbops.change_capture:
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: s3://backups/education-platform

- name: Its health
  sevenp.dbops.change_capture:
    state: status
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: s3://backups/education-platform
  register: capture

- name: Remove it (the archive stays)
  sevenp.dbops.change_capture:
    state: absent
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
"""

RETURN = r"""
queries:
  description: What was done (or would be, in check mode) to the service.
  returned: always
  type: list
  elements: str
name:
  description: The service's name (systemd unit without C(.service)).
  returned: always
  type: str
  sample: dbops-change-capture-education_platform-3f2a9c1d
install_dir:
  description: Its installation directory.
  returned: always
  type: str
manager:
  description: V(systemd) or V(supervisor).
  returned: always
  type: str
running:
  description: Whether it runs (after the run; in check mode, now).
  returned: always
  type: bool
pid:
  description: The main process (systemd) or the supervisor's pid.
  returned: when it runs
  type: int
restarted:
  description: Whether it was restarted because its files changed.
  returned: always
  type: bool
files:
  description: Files written or removed (or that would be).
  returned: always
  type: list
  elements: str
log_file:
  description: The supervisor's log file (under systemd the log is in the journal).
  returned: with the supervisor
  type: str
command:
  description: The command the service runs.
  returned: with O(state=started)
  type: list
  elements: str
health:
  description:
    - The capture's health, with O(state=status) and O(repository) - C(running), C(covered_until) and
      C(covered_wall) (how far the archive reaches), C(lag_seconds) behind the server, C(gaps), C(last_run)
      (what the service last reported), C(healthy), C(problems) and a C(hint) saying what to run.
  returned: with O(state=status) and O(repository)
  type: dict
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.install import (
        CaptureServiceSpec,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.naming import (
        install_dir,
        service_name,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.capture_service.service import (
        CaptureServiceRequest,
        manage_capture_service,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        state={"type": "str", "default": "started", "choices": ["started", "stopped", "absent", "status"]},
        install_root={"type": "path", "default": "/var/lib/sevenp-dbops"},
        install_dir={"type": "path"},
        name={"type": "str"},
        python={"type": "path"},
        os_user={"type": "str"},
        local_owner={"type": "str"},
        service_manager={"type": "str", "default": "auto", "choices": ["auto", "systemd", "supervisor"]},
        capture_mode={"type": "str", "default": "auto", "choices": ["auto", "oplog", "change_stream"]},
        start_at={"type": "str", "default": "latest_dump"},
        flush_interval={"type": "float", "default": 1.0},
        start_timeout={"type": "float", "default": 60},
        unit_dir={"type": "path", "default": "/etc/systemd/system"},
    ), repository=True)


def build_request(params: dict, check_mode: bool) -> CaptureServiceRequest:
    # Not required in the argument spec, so that the DBOPS_* environment variables can supply them.
    if not params["mongodb_uri"] or not params["mongodb_database"]:
        raise ValueError("mongodb_uri and mongodb_database are required (or set DBOPS_MONGODB_URI and "
                         "DBOPS_MONGODB_DATABASE)")
    if params["state"] == "started" and not params["repository"]:
        raise ValueError("repository is required with state=started (or set DBOPS_REPOSITORY)")
    name = params["name"] or service_name(params["mongodb_uri"], params["mongodb_database"])
    repository = repository_options(params) if params["repository"] else None
    config = {
        "mongodb_uri": params["mongodb_uri"], "database": params["mongodb_database"],
        **(repository.as_settings() if repository is not None else {}),
        "local_owner": params["local_owner"], "mode": params["capture_mode"], "start_at": params["start_at"],
        "flush_interval_seconds": params["flush_interval"],
    }
    spec = CaptureServiceSpec(directory=params["install_dir"] or install_dir(params["install_root"], name), name=name,
                              python=params["python"] or sys.executable, config=config, os_user=params["os_user"])
    return CaptureServiceRequest(state=params["state"], spec=spec, repository=repository,
                                 manager=params["service_manager"], unit_dir=params["unit_dir"],
                                 start_timeout=params["start_timeout"], check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module_runner.run_module(
        module, engine="the change capture service", engine_import=ENGINE, build=build_request,
        run=lambda request: manage_capture_service(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
