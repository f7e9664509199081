"""Routing an HAProxy backend to blue or green: the one server ready, the other in maintenance with its sessions
shut down, so that no client stays on it.

The plan is made from ``show servers state`` and is empty when the backend already routes that way, so routing
twice changes nothing. Order matters: the wanted server is made ready before the other is put in maintenance, so
the backend never has no server; sessions are shut down last, when no new one can reach the old server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_runtime import ServerState

COLOURS = ("blue", "green")
# The runtime API separates commands with ';' and lines: a name is only ever these characters.
NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


def checked_name(kind: str, name: str) -> str:
    if not NAME.match(name or ""):
        raise DbopsError(f"invalid HAProxy {kind} name {name!r}: letters, digits, '_', '.', ':' and '-' only")
    return name


def other_colour(colour: str) -> str:
    return COLOURS[1 - COLOURS.index(colour)]


def server_named(servers: Iterable[ServerState], backend: str, name: str) -> ServerState:
    for server in servers:
        if server.name == name:
            return server
    raise DbopsError(f"HAProxy backend {backend!r} has no server {name!r} (servers must be named blue and green)")


def routed_to(servers: list[ServerState], backend: str) -> str | None:
    """blue or green when exactly that one is ready and the other in maintenance; None otherwise."""
    states = {colour: server_named(servers, backend, colour).admin_state for colour in COLOURS}
    for colour in COLOURS:
        if states[colour] == "ready" and states[other_colour(colour)] == "maint":
            return colour
    return None


def plan_route(servers: list[ServerState], backend: str, colour: str) -> list[str]:
    """The runtime API commands that route backend to colour (none when it already does)."""
    if colour not in COLOURS:
        raise DbopsError(f"route must be blue or green, not {colour!r}")
    checked_name("backend", backend)
    wanted = server_named(servers, backend, colour)
    other = server_named(servers, backend, other_colour(colour))
    commands = []
    if wanted.admin_state != "ready":
        commands.append(f"set server {backend}/{wanted.name} state ready")
    if other.admin_state != "maint":
        commands.append(f"set server {backend}/{other.name} state maint")
        commands.append(f"shutdown sessions server {backend}/{other.name}")
    return commands
