"""The haproxy_switch module's engine: route an HAProxy backend to its blue or green server, or report its state.

The commands come from traffic/haproxy_route.plan_route (none when already routed, so changed is honest); after
sending them the state is read again and must show the route. Check mode reads the state and returns the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.job_report import JobReport
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_route import (
    checked_name,
    plan_route,
    routed_to,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_runtime import (
    RuntimeApi,
    RuntimeApiError,
    Send,
    ServerState,
    socket_sender,
)

ACTIONS = ("route", "status")


@dataclass(frozen=True)
class HaproxySwitchRequest:
    socket: str
    backend: str
    action: str = "route"
    route: str | None = None
    timeout: float = 5.0
    check_mode: bool = False


@dataclass
class HaproxySwitchResult(JobReport):
    changed: bool
    routed_to: str | None = None
    servers: list[dict[str, Any]] = field(default_factory=list)


def validate(request: HaproxySwitchRequest) -> None:
    if request.action not in ACTIONS:
        raise DbopsError(f"action must be one of {', '.join(ACTIONS)}, not {request.action!r}")
    checked_name("backend", request.backend)
    if request.action == "route" and request.route not in ("blue", "green"):
        raise DbopsError("action=route needs route: blue or green")
    if request.timeout <= 0:
        raise DbopsError("timeout must be > 0")


def switch_haproxy(request: HaproxySwitchRequest, send: Send | None = None) -> HaproxySwitchResult:
    """send: the runtime API transport (the stats socket unless given, as the unit tests do)."""
    validate(request)
    result = HaproxySwitchResult(changed=False)
    api = RuntimeApi(send or socket_sender(request.socket, request.timeout), result.queries)
    servers = api.servers(request.backend)
    if request.action == "route":
        commands = plan_route(servers, request.backend, request.route or "")
        result.changed = bool(commands)
        if request.check_mode:
            result.queries.extend(commands)
        else:
            for command in commands:
                api.change(command)
            if commands:
                servers = api.servers(request.backend)
                if routed_to(servers, request.backend) != request.route:
                    raise RuntimeApiError(f"after routing, backend {request.backend!r} is not routed to "
                                          f"{request.route}: {_states(servers)}", path=request.socket)
    result.routed_to = routed_to(servers, request.backend)
    result.servers = [_server(server) for server in servers]
    return result


def _server(server: ServerState) -> dict[str, Any]:
    return {"name": server.name, "address": server.address, "port": server.port, "admin_state": server.admin_state,
            "operational": server.operational}


def _states(servers: list[ServerState]) -> str:
    return ", ".join(f"{server.name}={server.admin_state}" for server in servers)
