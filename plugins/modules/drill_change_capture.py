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
  - Used by the C(sevenp.dbops.dr_drill) role, which needs the capture to run while its recovery point is taken.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.repository
attributes:
  check_mode:
    description: In check mode nothing is captured or stopped.
    support: full
  diff_mode:
    description: Not applicable.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
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
summary:
  description: When the capture started and finished, and its statistics (mode, entries, covered_until, ...).
  returned: unless in check mode
  type: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import (
    repository_argument_spec,
    repository_options_kwargs,
    repository_secrets,
)

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.capture_runner import (
        run_capture,
        stop_capture,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import (
        RepositoryOptions,
    )
except ImportError:
    ENGINE_IMPORT_ERROR = traceback.format_exc()

    class DbopsError(Exception):  # stands in for the engine's error class when it cannot be imported
        """Never raised: the module fails before calling the engine."""
else:
    ENGINE_IMPORT_ERROR = None


def main() -> None:
    spec = connection_argument_spec(env_fallback)
    spec.update(repository_argument_spec(env_fallback))
    spec.update(
        state={"type": "str", "default": "running", "choices": ["running", "stopped"]},
        work_dir={"type": "path", "required": True},
        max_seconds={"type": "float", "default": 900},
        timeout={"type": "float", "default": 60},
        pg_os_user={"type": "str"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("state", "running", ("mongodb_uri", "mongodb_database", "repository"))])
    module.no_log_values.update(connection_secrets(module.params))
    module.no_log_values.update(repository_secrets(module.params))
    if ENGINE_IMPORT_ERROR:
        module.fail_json(msg="the sevenp.dbops engine (module_utils) could not be imported",
                         exception=ENGINE_IMPORT_ERROR)
    params = module.params
    if module.check_mode:
        module.exit_json(changed=params["state"] == "running", msg=f"would make the change capture {params['state']}")
    try:
        if params["state"] == "running":
            repository = RepositoryOptions(**repository_options_kwargs(params)).open()
            summary = run_capture(params["mongodb_uri"], repository, params["mongodb_database"], params["work_dir"],
                                  params["max_seconds"])
        else:
            summary = stop_capture(params["work_dir"], timeout_s=params["timeout"])
    except DbopsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=params["state"] == "running", summary=summary)


if __name__ == "__main__":
    main()
