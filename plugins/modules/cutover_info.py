#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cutover_info
short_description: Report the blue-green cutovers recorded on a PostgreSQL and/or MongoDB database
version_added: 0.2.0
description:
  - Reads the state a blue-green cutover (C(playbooks/cutover.yml)) records on both sides - the PostgreSQL table
    C(dbops.cutover_state) and the MongoDB collection C(dbops.cutover_state) - from the databases given (either
    side holds a copy) and returns, per cutover name, the newest record - which side is active, the phase, the
    step last intended or done, whether a switch is half done, the positions of the fence and the switch.
  - Reads only; creates nothing where no cutover was recorded (that reads as an empty RV(cutovers)).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.connection
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.info_module
  - sevenp.dbops.attributes.platform
  - sevenp.dbops.attributes.actiongroup_dbops
notes:
  - The status role (C(playbooks/status.yml)) shows the same in its summary.
seealso:
  - name: Blue-green cutover
    description: The phases, the variables and what to do when a step fails.
    link: https://example.invalid/sevenp/dbops/docs/cutover.md
"""

EXAMPLES = r"""
- name: Which side is active?
  sevenp.dbops.cutover_info:
    postgres_dsn: "{{ dbops_blue_postgres_dsn }}"
  register: cutover
"""

RETURN = r"""
cutovers:
  description: The newest record of each cutover, by name.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "default", "generation": 14, "active": "green", "phase": "switched", "step": "resume",
            "step_status": "done", "in_progress": false, "direction": "to_green", "undone": false,
            "positions": {"fence_lsn": "0/3000148"}, "sources": ["postgres", "mongodb"],
            "updated_at": "2026-12-03T10:00:00.000000Z"}]
  contains:
    name:
      description: The cutover's name (C(dbops_cutover_name), default V(default)).
      type: str
    active:
      description: The side the application writes to, V(blue) or V(green).
      type: str
    phase:
      description: The cutover's phase (preparing, prepared, switching, switched, fallen_back, undone, aborted...).
      type: str
    in_progress:
      description: Whether a step was intended and not recorded done (a switch interrupted; rerun it).
      type: bool
    sources:
      description: Where this newest record was found (V(postgres), V(mongodb)).
      type: list
      elements: str
sources:
  description: Where the state was looked for.
  returned: always
  type: list
  elements: str
queries:
  description: The statements run.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.cutover_info import (
        CutoverInfoRequest,
        read_cutovers,
    )
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.database_connections import (
        DatabaseConnections,
    )


def build_request(params: dict, check_mode: bool) -> CutoverInfoRequest:
    del check_mode  # reads only: the same in check mode
    return CutoverInfoRequest(databases=DatabaseConnections.from_options(params))


def main() -> None:
    module = AnsibleModule(argument_spec=module_runner.dbops_argument_spec({}),
                           required_one_of=[("postgres_dsn", "mongodb_uri")], supports_check_mode=True)
    module_runner.run_module(
        module, engine="the cutover state reader", engine_import=ENGINE, build=build_request,
        run=lambda request: read_cutovers(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
