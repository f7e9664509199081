"""HAProxy's runtime API over its stats socket (``stats socket PATH level admin``): one command per connection,
each bounded by a timeout, and ``show servers state`` parsed into records.

Without ``prompt`` mode HAProxy answers one command and closes the connection, so a reply is everything read
until EOF. A reply to a command that changes state is empty on success; anything else is the error HAProxy gives.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

# srv_admin_state bits (HAProxy's SRV_ADMF_*) that keep traffic away: forced, inherited, resolution and hostname
# maintenance; drain. Not 0x04 (CMAINT): it only records "disabled" in the config and stays set after
# `state ready`, while the server takes traffic again.
ADMIN_MAINT = 0x01 | 0x02 | 0x20 | 0x40
ADMIN_DRAIN = 0x08 | 0x10
# srv_op_state: SRV_ST_STOPPED, STARTING, RUNNING, STOPPING.
OPERATIONAL_STATES = {0: "stopped", 1: "starting", 2: "running", 3: "stopping"}

Send = Callable[[str], str]


class RuntimeApiError(DbopsError):
    """The HAProxy runtime API is unreachable, timed out, or refused a command."""


@dataclass(frozen=True)
class ServerState:
    backend: str
    name: str
    address: str
    port: int | None
    operational: str
    admin_bits: int

    @property
    def maintenance(self) -> bool:
        return bool(self.admin_bits & ADMIN_MAINT)

    @property
    def draining(self) -> bool:
        return bool(self.admin_bits & ADMIN_DRAIN)

    @property
    def admin_state(self) -> str:
        if self.maintenance:
            return "maint"
        return "drain" if self.draining else "ready"


def parse_servers_state(reply: str) -> list[ServerState]:
    """`show servers state [BACKEND]`: a version line, a '# be_id be_name srv_id srv_name ...' header, rows."""
    columns: list[str] = []
    servers: list[ServerState] = []
    for line in reply.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            columns = line.lstrip("#").split()
            continue
        if not columns:
            continue  # the format version line comes before the header
        row = dict(zip(columns, line.split(), strict=False))
        if "srv_name" not in row:
            raise RuntimeApiError(f"cannot read a 'show servers state' line: {line!r}")
        port = row.get("srv_port")
        servers.append(ServerState(
            backend=row.get("be_name", ""), name=row["srv_name"], address=row.get("srv_addr", ""),
            port=int(port) if port and port.isdigit() else None,
            operational=OPERATIONAL_STATES.get(int(row.get("srv_op_state", "-1")), "unknown"),
            admin_bits=int(row.get("srv_admin_state", "0"))))
    return servers


def socket_sender(path: str, timeout: float) -> Send:
    """A function sending one command to the runtime API at path and returning its whole reply."""

    def send(command: str) -> str:
        chunks: list[bytes] = []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(timeout)
                connection.connect(path)
                connection.sendall(command.encode("ascii") + b"\n")
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
        except TimeoutError:
            raise RuntimeApiError(f"HAProxy did not answer {command!r} within {timeout:g}s", path=path) from None
        except OSError as exc:
            raise RuntimeApiError(f"cannot reach the HAProxy runtime API: {exc.strerror or exc}", path=path) from None
        return b"".join(chunks).decode("utf-8", "replace")

    return send


class RuntimeApi:
    """The commands the switch uses; queries collects every command sent."""

    def __init__(self, send: Send, queries: list[str]) -> None:
        self.send = send
        self.queries = queries

    def servers(self, backend: str) -> list[ServerState]:
        command = f"show servers state {backend}"
        self.queries.append(command)
        reply = self.send(command)
        if not reply.lstrip().startswith(("1", "#")):
            raise RuntimeApiError(f"HAProxy refused {command!r}: {reply.strip()}")
        return parse_servers_state(reply)

    def change(self, command: str) -> None:
        self.queries.append(command)
        reply = self.send(command).strip()
        if reply:
            raise RuntimeApiError(f"HAProxy refused {command!r}: {reply}")
