"""The traffic switches of a cutover, as the switch uses them: PgBouncer (PAUSE, retarget + RELOAD, RESUME) for
PostgreSQL and the HAProxy backend for MongoDB, through the engines of pgbouncer_switch and haproxy_switch (every
admin command bounded by a timeout; a PAUSE that times out is resumed at once)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed, DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.haproxy_switch import (
    HaproxySwitchRequest,
    switch_haproxy,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.pgbouncer_switch import (
    PgbouncerSwitchRequest,
    switch_pgbouncer,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import conninfo_to_dict
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_route import checked_name
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.haproxy_runtime import (
    RuntimeApi,
    socket_sender,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.traffic.pgbouncer_admin import (
    AdminConsole,
    CommandTimedOut,
)

MIN_TIMEOUT_S = 0.05


@dataclass(frozen=True)
class TrafficSettings:
    pgbouncer_admin_dsn: str | None = None
    pgbouncer_config: str | None = None
    pgbouncer_database: str | None = None
    haproxy_socket: str | None = None
    haproxy_backend: str | None = None

    @property
    def pgbouncer(self) -> bool:
        return bool(self.pgbouncer_admin_dsn)

    @property
    def haproxy(self) -> bool:
        return bool(self.haproxy_socket)

    def validate(self, postgres: bool, mongodb: bool) -> None:
        if postgres and not (self.pgbouncer_admin_dsn and self.pgbouncer_config and self.pgbouncer_database):
            raise DbopsError("the PostgreSQL switch needs pgbouncer_admin_dsn, pgbouncer_config and "
                             "pgbouncer_database")
        if mongodb and not (self.haproxy_socket and self.haproxy_backend):
            raise DbopsError("the MongoDB switch needs haproxy_socket and haproxy_backend")


def pgbouncer_target(dsn: str) -> tuple[str, int, str]:
    """host, port, dbname of a side's DSN: where PgBouncer's [databases] entry points for that side."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or params.get("hostaddr") or "127.0.0.1")
    return host, int(params.get("port") or 5432), str(params.get("dbname") or params.get("user") or "postgres")


def open_console(settings: TrafficSettings, timeout: float) -> AdminConsole:
    """An admin connection opened before the pause, so that PAUSE, RELOAD and RESUME inside it pay no connection
    set-up; the caller closes it."""
    console = AdminConsole(settings.pgbouncer_admin_dsn or "", timeout=max(timeout, MIN_TIMEOUT_S), queries=[])
    return console.__enter__()


def _pgbouncer(settings: TrafficSettings, action: str, timeout: float, queries: list[str], *,
               target: tuple[str, int, str] | None = None, console: AdminConsole | None = None) -> bool:
    request = PgbouncerSwitchRequest(
        admin_dsn=settings.pgbouncer_admin_dsn or "", action=action, database=settings.pgbouncer_database or "",
        config=settings.pgbouncer_config, target_host=target[0] if target else None,
        target_port=target[1] if target else None, target_dbname=target[2] if target else None,
        timeout=max(timeout, MIN_TIMEOUT_S))
    result = switch_pgbouncer(request, console)
    queries.extend(f"pgbouncer: {text}" for text in result.queries)
    return result.changed


def pause(settings: TrafficSettings, timeout: float, queries: list[str], console: AdminConsole | None = None
          ) -> bool:
    return _pgbouncer(settings, "pause", timeout, queries, console=console)


def resume(settings: TrafficSettings, timeout: float, queries: list[str], console: AdminConsole | None = None
           ) -> bool:
    """RESUME, on the given console when it still works, else (or when it fails) on a new connection: the clients
    must never stay paused because one connection broke."""
    if console is not None and console.conn is not None:
        try:
            return _pgbouncer(settings, "resume", timeout, queries, console=console)
        except (ConnectionFailed, CommandTimedOut) as exc:
            queries.append(f"pgbouncer: -- the admin connection failed ({exc}); RESUME on a new one")
    return _pgbouncer(settings, "resume", timeout, queries)


def retarget(settings: TrafficSettings, dsn: str, timeout: float, queries: list[str],
             console: AdminConsole | None = None) -> bool:
    return _pgbouncer(settings, "retarget", timeout, queries, target=pgbouncer_target(dsn), console=console)


def route(settings: TrafficSettings, side: str, timeout: float, queries: list[str]) -> bool:
    result = switch_haproxy(HaproxySwitchRequest(socket=settings.haproxy_socket or "",
                                                 backend=settings.haproxy_backend or "", action="route", route=side,
                                                 timeout=max(timeout, MIN_TIMEOUT_S)))
    queries.extend(f"haproxy: {text}" for text in result.queries)
    return result.changed


def reconnect_clients(settings: TrafficSettings, side: str, timeout: float, queries: list[str]) -> None:
    """Close the client connections HAProxy holds to the side's server, so that every client logs in again.

    Needed after the new side's fence is lifted: a server that fixes a connection's privileges when it
    authenticates (SecantusDB does; mongod re-reads a user's roles when they change) keeps refusing the writes of a
    client that reconnected to the new side while it was still fenced. The drivers reconnect at once, and a
    retryable write is retried on the new connection."""
    backend = checked_name("backend", settings.haproxy_backend or "")
    server = checked_name("server", side)
    api = RuntimeApi(socket_sender(settings.haproxy_socket or "", max(timeout, MIN_TIMEOUT_S)), [])
    api.change(f"shutdown sessions server {backend}/{server}")
    queries.extend(f"haproxy: {text}" for text in api.queries)


def routed_to(settings: TrafficSettings, timeout: float = 5.0) -> str | None:
    result = switch_haproxy(HaproxySwitchRequest(socket=settings.haproxy_socket or "",
                                                 backend=settings.haproxy_backend or "", action="status",
                                                 timeout=timeout))
    return result.routed_to


def pgbouncer_status(settings: TrafficSettings, timeout: float = 5.0) -> dict:
    request = PgbouncerSwitchRequest(admin_dsn=settings.pgbouncer_admin_dsn or "", action="status",
                                     database=settings.pgbouncer_database or "", timeout=timeout)
    return switch_pgbouncer(request).database or {}
