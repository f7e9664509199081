"""HAProxy: `show servers state` parsed from a recorded reply, and routing planned from it (idempotent), through the
job with an in-process fake of the runtime API."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.haproxy_switch import (
    HaproxySwitchRequest,
    switch_haproxy,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_route import plan_route, routed_to
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_runtime import (
    RuntimeApiError,
    parse_servers_state,
)

HEADER = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
          "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
          "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
          "srv_check_addr srv_agent_addr srv_agent_port\n")


def _row(server_id: int, name: str, op_state: int, admin_state: int, port: int) -> str:
    return (f"3 mongo {server_id} {name} 127.0.0.1 {op_state} {admin_state} 1 1 0 1 0 2 0 0 0 0 - {port} - 0 0 - "
            "- 0\n")


# HAProxy 2.6 after start: green "disabled" in the config (CMAINT|FMAINT = 5).
ON_BLUE = HEADER + _row(1, "blue", 2, 0, 27017) + _row(2, "green", 0, 5, 27018) + "\n"
# After `set server mongo/green state ready` and `... blue state maint`: CMAINT (4) stays on green, harmless.
ON_GREEN = HEADER + _row(1, "blue", 0, 1, 27017) + _row(2, "green", 2, 4, 27018) + "\n"


def test_show_servers_state_is_parsed_and_config_maintenance_alone_is_ready() -> None:
    blue, green = parse_servers_state(ON_BLUE)
    assert (blue.name, blue.port, blue.admin_state, blue.operational) == ("blue", 27017, "ready", "running")
    assert green.admin_state == "maint" and green.operational == "stopped"
    assert parse_servers_state(ON_GREEN)[1].admin_state == "ready"
    assert routed_to(parse_servers_state(ON_BLUE), "mongo") == "blue"
    assert routed_to(parse_servers_state(ON_GREEN), "mongo") == "green"


def test_routing_is_planned_in_order_and_is_empty_when_already_routed() -> None:
    assert plan_route(parse_servers_state(ON_BLUE), "mongo", "green") == [
        "set server mongo/green state ready", "set server mongo/blue state maint",
        "shutdown sessions server mongo/blue"]
    assert plan_route(parse_servers_state(ON_GREEN), "mongo", "green") == []
    with pytest.raises(DbopsError, match="invalid HAProxy backend name"):
        plan_route(parse_servers_state(ON_BLUE), "mongo;shutdown", "green")


class FakeRuntimeApi:
    """Answers like HAProxy: state replies, empty replies to changes, flipping to ON_GREEN once routed."""

    def __init__(self) -> None:
        self.state = ON_BLUE
        self.sent: list[str] = []

    def __call__(self, command: str) -> str:
        self.sent.append(command)
        if command.startswith("show servers state"):
            return self.state
        if command == "set server mongo/blue state maint":
            self.state = ON_GREEN
        if "nosuch" in command:
            return "No such server.\n"
        return "\n"


def test_the_job_routes_once_then_reports_no_change() -> None:
    api = FakeRuntimeApi()
    request = HaproxySwitchRequest(socket="/unused", backend="mongo", route="green")
    planned = switch_haproxy(HaproxySwitchRequest(socket="/unused", backend="mongo", route="green",
                                                  check_mode=True), send=api)
    assert planned.changed and api.sent == ["show servers state mongo"] and planned.routed_to == "blue"
    routed = switch_haproxy(request, send=api)
    assert routed.changed and routed.routed_to == "green" and routed.queries[-1] == "show servers state mongo"
    again = switch_haproxy(request, send=api)
    assert not again.changed and again.queries == ["show servers state mongo"]


def test_a_refused_command_or_a_missing_server_fails() -> None:
    with pytest.raises(RuntimeApiError, match="refused 'show servers state mongo'"):
        switch_haproxy(HaproxySwitchRequest(socket="/unused", backend="mongo", action="status"),
                       send=lambda command: "Can't find backend.\n")
    only_blue = HEADER + _row(1, "blue", 2, 0, 27017)
    with pytest.raises(DbopsError, match="has no server 'green'"):
        switch_haproxy(HaproxySwitchRequest(socket="/unused", backend="mongo", route="green"),
                       send=lambda command: only_blue)
