#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_switch
short_description: Route an HAProxy backend to its blue or green server, or report where it routes
version_added: 0.1.0
description:
  - "Works through HAProxy's runtime API on its Unix stats socket (O(socket); C(stats socket PATH level admin)).
    The backend (O(backend)) has two servers named C(blue) and C(green)."
  - "O(action=route): C(set server BACKEND/<wanted> state ready), then C(set server BACKEND/<other> state maint),
    then C(shutdown sessions server BACKEND/<other>) so that no client stays connected to the old side (clients
    reconnect, through HAProxy, to the wanted one). The state is read again afterwards and must show the route."
  - "O(action=status): C(show servers state BACKEND)."
  - Routing to the side the backend already routes to (that server ready, the other in maintenance) sends nothing.
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Reads the servers' state and returns the commands it would send; sends none.
    support: full
  diff_mode:
    support: none
  idempotent:
    description: Routing again to the same side changes nothing.
    support: full
options:
  socket:
    description: Path of HAProxy's runtime API socket (admin level).
    type: path
    required: true
  backend:
    description: The backend with the servers C(blue) and C(green).
    type: str
    required: true
  action:
    description: V(route) to send the backend's traffic to O(route), V(status) to only report.
    type: str
    choices: [route, status]
    default: route
  route:
    description: Where to send the traffic; required for O(action=route).
    type: str
    choices: [blue, green]
  timeout:
    description: Seconds each runtime API command may take.
    type: float
    default: 5
seealso:
  - module: sevenp.dbops.pgbouncer_switch
  - module: sevenp.dbops.replication_sync
"""

EXAMPLES = r"""
- name: Send MongoDB clients to green
  sevenp.dbops.haproxy_switch:
    socket: "{{ dbops_haproxy_socket }}"
    backend: "{{ dbops_haproxy_backend }}"
    route: green

- name: Where do MongoDB clients go?
  sevenp.dbops.haproxy_switch:
    socket: "{{ dbops_haproxy_socket }}"
    backend: "{{ dbops_haproxy_backend }}"
    action: status
  register: mongodb_route
"""

RETURN = r"""
queries:
  description: The runtime API commands sent (in check mode, also the ones it would send).
  returned: always
  type: list
  elements: str
changed:
  description: Whether the route was changed (would be, in check mode).
  returned: always
  type: bool
routed_to:
  description: V(blue) or V(green) when that server is ready and the other in maintenance, else null (after the
    action; before it, in check mode).
  returned: always
  type: str
servers:
  description: The backend's servers, each with name, address, port, admin_state (V(ready), V(drain) or V(maint))
    and operational (V(running), V(stopped), ...).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.haproxy_switch import (
        HaproxySwitchRequest,
        switch_haproxy,
    )


def argument_spec() -> dict:
    return dict(
        socket={"type": "path", "required": True},
        backend={"type": "str", "required": True},
        action={"type": "str", "choices": ["route", "status"], "default": "route"},
        route={"type": "str", "choices": ["blue", "green"]},
        timeout={"type": "float", "default": 5.0},
    )


def build_request(params: dict, check_mode: bool) -> HaproxySwitchRequest:
    return HaproxySwitchRequest(socket=params["socket"], backend=params["backend"], action=params["action"],
                                route=params["route"], timeout=params["timeout"], check_mode=check_mode)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("action", "route", ("route",))],
                           supports_check_mode=True)
    module_runner.run_module(
        module, engine="the HAProxy switch engine", engine_import=ENGINE, build=build_request,
        run=lambda request: switch_haproxy(request))  # pylint: disable=unnecessary-lambda


if __name__ == "__main__":
    main()
