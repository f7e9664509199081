"""An application on a real cluster for the read-only tests: roles, tables and grants of every kind the fence must
cover, a write load that keeps trying, and a snapshot of everything disabling must restore."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tests.support.pg_cluster import PgCluster

APP_PASSWORD = "app-secret-pw"


@dataclass
class FencedApp:
    cluster: PgCluster
    dbname: str
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def app(self) -> str:
        return f"app_{self.suffix}"

    @property
    def ops(self) -> str:
        return f"ops_{self.suffix}"

    @property
    def writers(self) -> str:
        return f"writers_{self.suffix}"

    @property
    def granter(self) -> str:
        return f"granter_{self.suffix}"

    @property
    def already(self) -> str:
        return f"already_{self.suffix}"

    def roles(self) -> list[str]:
        return [self.app, self.ops, self.writers, self.granter, self.already]

    def admin_dsn(self) -> str:
        return self.cluster.dsn(self.dbname)

    def dsn_as(self, role: str) -> str:
        return self.cluster.dsn(self.dbname, user=role, password=APP_PASSWORD)

    def create(self) -> FencedApp:
        ident = sql.Identifier
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            for role in (self.app, self.ops, self.granter, self.already):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident(role), sql.Literal(APP_PASSWORD)))
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident(self.writers)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(ident(self.writers), ident(self.app)))
            # A setting already on before: disabling must leave it on.
            conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident(self.already)))
            conn.execute("CREATE TABLE items (id bigserial PRIMARY KEY, note text, at timestamptz DEFAULT now())")
            conn.execute("CREATE TABLE audit (id bigserial PRIMARY KEY, note text)")
            conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
            conn.execute("CREATE TABLE public_log (line text)")
            conn.execute("INSERT INTO notes VALUES (1, 'first')")
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON items TO {}").format(ident(self.app)))
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE items_id_seq, audit_id_seq TO {}, {}").format(
                ident(self.app), ident(self.ops)))
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON audit TO {}").format(ident(self.writers)))
            conn.execute(sql.SQL("GRANT SELECT ON notes TO {}").format(ident(self.app)))
            conn.execute(sql.SQL("GRANT UPDATE (body) ON notes TO {}").format(ident(self.app)))
            conn.execute("GRANT INSERT ON public_log TO PUBLIC")
            conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(ident(self.app)))
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON items TO {}").format(ident(self.ops)))
            conn.execute(sql.SQL("GRANT SELECT ON items TO {}").format(ident(self.already)))
            # An entry another grantor made: a superuser's plain REVOKE would not remove it.
            conn.execute(sql.SQL("GRANT TRUNCATE ON audit TO {} WITH GRANT OPTION").format(ident(self.granter)))
            conn.execute(sql.SQL("SET ROLE {}").format(ident(self.granter)))
            conn.execute(sql.SQL("GRANT TRUNCATE ON audit TO {}").format(ident(self.app)))
            conn.execute("RESET ROLE")
        return self

    def drop(self) -> None:
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")  # a test may have left the server default on
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("ALTER ROLE postgres RESET default_transaction_read_only")
        wait_for_default(self.cluster.dsn(), "off")  # the reload is asynchronous; the database is dropped next
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS items, audit, notes, public_log")
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for role in self.roles():
                conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def wait_for_default(dsn: str, value: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if conn.execute("SHOW default_transaction_read_only").fetchone()[0] == value:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"default_transaction_read_only never became {value}")
        time.sleep(0.02)


def snapshot(app: FencedApp) -> dict:
    """Everything the mode may touch: the settings, the roles' attributes and settings, every ACL of the database."""
    with psycopg.connect(app.admin_dsn(), autocommit=True) as conn:
        def rows(query: str) -> list:
            return [tuple(row) for row in conn.execute(query).fetchall()]
        return {
            "file_settings": rows("SELECT sourcefile, name, setting FROM pg_file_settings "
                                  "WHERE name = 'default_transaction_read_only' ORDER BY 1, 2, 3"),
            "setting": rows("SELECT setting, source FROM pg_settings WHERE name = 'default_transaction_read_only'"),
            "roles": rows("SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, "
                          "rolreplication, rolconnlimit, rolbypassrls, rolvaliduntil FROM pg_roles ORDER BY 1"),
            "role_settings": rows("SELECT r.rolname, s.setdatabase, array_to_string(s.setconfig, ',') "
                                  "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1, 2"),
            "memberships": rows("SELECT roleid::regrole::text, member::regrole::text, admin_option FROM "
                                "pg_auth_members ORDER BY 1, 2"),
            "table_acl": rows("SELECT c.oid::regclass::text, array_to_string(ARRAY(SELECT unnest(c.relacl)::text "
                              "ORDER BY 1), ',') FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                              "ORDER BY 1"),
            "column_acl": rows("SELECT attrelid::regclass::text, attname, array_to_string(ARRAY(SELECT "
                               "unnest(attacl)::text ORDER BY 1), ',') FROM pg_attribute WHERE attacl IS NOT NULL "
                               "AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = "
                               "'public'::regnamespace) ORDER BY 1, 2"),
            "schema_acl": rows("SELECT nspname, array_to_string(ARRAY(SELECT unnest(nspacl)::text ORDER BY 1), ',') "
                               "FROM pg_namespace ORDER BY 1"),
        }


@dataclass
class WriteLoad:
    """An application role that keeps trying to write, every way a session can; counts the writes accepted after
    a moment (set when the mode is reported engaged)."""

    dsn: str
    engaged_at: float | None = None
    accepted: list[tuple[str, float]] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> WriteLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def accepted_after_engaged(self) -> list[tuple[str, float]]:
        return [item for item in self.accepted if self.engaged_at is not None and item[1] >= self.engaged_at]

    def _attempt(self, way: str, conn: psycopg.Connection | None) -> psycopg.Connection | None:
        started = time.monotonic()
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            if way == "insert":
                conn.execute("INSERT INTO items (note) VALUES ('insert')")
            elif way == "set off":
                conn.execute("SET default_transaction_read_only = off")
                conn.execute("INSERT INTO items (note) VALUES ('set off')")
            elif way == "begin read write":
                conn.execute("BEGIN READ WRITE")
                try:
                    conn.execute("INSERT INTO items (note) VALUES ('begin read write')")
                    conn.execute("COMMIT")
                finally:
                    if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            elif way == "new connection":
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as fresh:
                    fresh.execute("INSERT INTO items (note) VALUES ('new connection')")
            elif way == "group grant":
                conn.execute("INSERT INTO audit (note) VALUES ('group')")
            elif way == "public grant":
                conn.execute("INSERT INTO public_log VALUES ('public')")
            elif way == "column grant":
                conn.execute("UPDATE notes SET body = 'changed' WHERE id = 1")
            elif way == "sequence":
                # nextval() writes the sequence even where no row is inserted; out of a read-write transaction.
                conn.execute("SET default_transaction_read_only = off")
                conn.execute("SELECT nextval('audit_id_seq')")
            self.accepted.append((way, started))
        except psycopg.Error as exc:
            state = exc.sqlstate or "connection"
            self.refused[state] = self.refused.get(state, 0) + 1
            if state not in ("42501", "25006", "connection", "57P01", "08006", "08003"):
                self.errors.append(f"{way}: {exc}")
            if conn is not None and conn.closed:
                conn = None
        return conn

    def _run(self) -> None:
        ways = ["insert", "set off", "begin read write", "new connection", "group grant", "public grant",
                "column grant", "sequence"]
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            for way in ways:
                self.attempts += 1
                conn = self._attempt(way, conn)
            time.sleep(0.002)
        if conn is not None:
            conn.close()
