#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_change_capture
short_description: Keep the MongoDB change capture running for the length of a disaster-recovery drill
version_added: 0.1.0
description:
  - With O(state=running), captures the changes of O(mongodb_database) into the repository's change archive (the
    capture the MongoDB side of M(sevenp.dbops.recovery_point) and M(sevenp.dbops.restore) rely on), resuming where
    the archive ends, until O(state=stopped) is requested or O(max_seconds) pass. Run it with C(async) and C(poll=0).
  - With O(state=stopped), asks the running capture to stop (it flushes what it holds) and returns its summary.
  - Superseded by M(sevenp.dbops.change_capture), the capture as a supervised service, which the
    C(sevenp.dbops.wal_archiving) role starts and the C(sevenp.dbops.dr_drill) role now relies on. This module
    is kept for playbooks that still run it and will be removed in a later release; an async job breaks where
    C($HOME) is not the user's passwd home, the service does not.
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
    description: In check mode nothing is captured or stopped.
    support: full
  diff_mode:
    support: none
options:
  state:
    description: V(running) captures until stopped; V(stopped) stops a running capture.
    type: str
    choices: [running, stopped]
    default: running
  work_dir:
    description: Directory on the module's host for the stop request and the capture's summary.
    type: path
    required: true
  max_seconds:
    description: The capture stops by itself after this many seconds.
    type: float
    default: 900
  timeout:
    description: With O(state=stopped), seconds to wait for the capture to stop.
    type: float
    default: 60
  pg_os_user:
    description: OS user that should own what a root process creates in a local repository.
    type: str
"""

EXAMPLES = r"""
- name: Capture MongoDB changes in the background
  sevenp.dbops.drill_change_capture:
    mongodb_uri: "{{ dbops_mongodb_uri }}"
    mongodb_database: education_platform
    repository: /var/backups/dbops
    work_dir: /var/tmp/dbops-drill/drill-1
  async: 900
  poll: 0

- name: Stop it
  sevenp.dbops.drill_change_capture:
    state: stopped
    work_dir: /var/tmp/dbops-drill/drill-1
"""

RETURN = r"""
queries:
  description: Always empty (this module runs no statement of its own); every sevenp.dbops module returns it.
  returned: always
  type: list
  elements: str
summary:
  description: When the capture started and finished, and its statistics (mode, entries, covered_until, ...).
  returned: unless in check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import repository_options

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.capture_runner import (
        run_capture,
        stop_capture,
    )


def argument_spec() -> dict:
    return module_runner.dbops_argument_spec(dict(
        state={"type": "str", "default": "running", "choices": ["running", "stopped"]},
        work_dir={"type": "path", "required": True},
        max_seconds={"type": "float", "default": 900},
        timeout={"type": "float", "default": 60},
        pg_os_user={"type": "str"},
    ), repository=True)


def capture_action(params: dict, check_mode: bool) -> dict:
    running = params["state"] == "running"
    if check_mode:
        return {"changed": running, "msg": f"would make the change capture {params['state']}"}
    if running:
        summary = run_capture(params["mongodb_uri"], repository_options(params).open(), params["mongodb_database"],
                              params["work_dir"], params["max_seconds"])
    else:
        summary = stop_capture(params["work_dir"], timeout_s=params["timeout"])
    return {"changed": running, "summary": summary}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "running", ("mongodb_uri", "mongodb_database", "repository"))])
    module_runner.run_module(
        module, engine="the drill's change capture", engine_import=ENGINE,
        build=lambda params, check_mode: (params, check_mode),
        run=lambda call: capture_action(*call))


if __name__ == "__main__":
    main()
