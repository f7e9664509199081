"""Wrong credentials and an unreachable server: one clear error naming the server (never the password), and
nothing changed (SecantusDB enforces SCRAM users when started with require_auth)."""

from __future__ import annotations

from collections.abc import Iterator

import pymongo
import pytest
from secantus import SecantusDBServer

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import ConnectionFailed
from tests.support.mongo_migrations import run, write_mongo_set
from tests.support.ports import free_port

SET = {"operations": [{"add_field": {"collection": "users", "field": "preferences", "default": {}}}]}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[str]:
    """host:port of a server that requires authentication, with users admin (root) and reader (read on app)."""
    storage = tmp_path_factory.mktemp("secantus-auth")
    # Users are created while authentication is off, then the server restarts enforcing them.
    setup = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage))
    setup.start()
    client = pymongo.MongoClient(setup.uri() if callable(setup.uri) else setup.uri)
    client.admin.command("createUser", "admin", pwd="right-password", roles=["root"])
    client.admin.command("createUser", "reader", pwd="reader-password", roles=[{"role": "read", "db": "app"}])
    client.app.users.insert_one({"n": 1})
    client.close()
    setup.stop()
    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(storage), require_auth=True)
    server.start()
    uri = server.uri() if callable(server.uri) else server.uri
    try:
        yield uri.split("://", 1)[1].split("/", 1)[0]
    finally:
        server.stop()


def app_state(host: str) -> tuple[list, list]:
    client = pymongo.MongoClient(f"mongodb://admin:right-password@{host}/?authSource=admin")
    try:
        return sorted(client.app.list_collection_names()), list(client.app.users.find({}, {"_id": 0}))
    finally:
        client.close()


def test_wrong_password(auth_server, tmp_path):
    write_mongo_set(tmp_path, "1_prefs", yml=SET)
    before = app_state(auth_server)
    with pytest.raises(ConnectionFailed) as caught:
        run(f"mongodb://admin:WRONG-password@{auth_server}/?authSource=admin", "app", tmp_path)
    message = str(caught.value)
    assert f"MongoDB at {auth_server} refused the credentials: authentication failed (code 18)" in message
    assert "WRONG-password" not in message
    assert app_state(auth_server) == before


def test_no_credentials_on_a_server_that_requires_them(auth_server, tmp_path):
    write_mongo_set(tmp_path, "1_prefs", yml=SET)
    with pytest.raises(ConnectionFailed, match=r"refused access to database app: .*code 13"):
        run(f"mongodb://{auth_server}/", "app", tmp_path)


def test_a_user_without_write_rights_fails_clearly_before_changing_anything(auth_server, tmp_path):
    write_mongo_set(tmp_path, "1_prefs", yml=SET)
    before = app_state(auth_server)
    with pytest.raises(Exception, match=r"(?i)unauthorized|not authorized|requires authentication|code 13") as caught:
        run(f"mongodb://reader:reader-password@{auth_server}/?authSource=admin", "app", tmp_path)
    assert "reader-password" not in str(caught.value)
    assert app_state(auth_server) == before


def test_right_credentials_work(auth_server, tmp_path):
    write_mongo_set(tmp_path, "1_prefs", yml=SET)
    result = run(f"mongodb://admin:right-password@{auth_server}/?authSource=admin", "app", tmp_path)
    assert result.applied == ["1"]
    entry = pymongo.MongoClient(f"mongodb://admin:right-password@{auth_server}/?authSource=admin").app[
        "dbops_migrations"].find_one({"_id": "1"})
    assert entry["db_user"] == "admin" and "right-password" not in str(entry)


def test_unreachable_server(tmp_path):
    write_mongo_set(tmp_path, "1_prefs", yml=SET)
    port = free_port()
    with pytest.raises(ConnectionFailed) as caught:
        run(f"mongodb://someone:secret-pw@127.0.0.1:{port}/?serverSelectionTimeoutMS=800", "app", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"cannot reach MongoDB at 127.0.0.1:{port} within 800 ms")
    assert "secret-pw" not in message


def test_backups_connect_through_the_same_function(auth_server):
    """connection.connect_tz_aware (backup, capture, restore) is connection.connect with timezone-aware dates: the
    same ping, the same refusal message, never the password."""
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb import connection

    with pytest.raises(ConnectionFailed) as caught:
        connection.connect_tz_aware(f"mongodb://admin:WRONG-password@{auth_server}/?authSource=admin")
    assert f"MongoDB at {auth_server} refused the credentials" in str(caught.value)
    assert "WRONG-password" not in str(caught.value)
    client = connection.connect_tz_aware(f"mongodb://admin:right-password@{auth_server}/?authSource=admin")
    try:
        assert client.codec_options.tz_aware
    finally:
        client.close()
    client = connection.connect(f"mongodb://admin:right-password@{auth_server}/?authSource=admin")
    try:
        assert not client.codec_options.tz_aware  # migrations keep pymongo's naive UTC dates
    finally:
        client.close()


def test_a_malformed_uri_is_refused_without_its_password():
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connect

    with pytest.raises(ConnectionFailed, match="invalid MongoDB URI") as caught:
        connect("mongodb://someone:secret-pw@127.0.0.1:notaport/")
    assert "secret-pw" not in str(caught.value)


def test_work_that_loses_the_server_names_what_it_was_doing(tmp_path):
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.connection import connected

    server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=str(tmp_path / "gone"))
    server.start()
    uri = server.uri() if callable(server.uri) else server.uri
    try:
        short = uri + ("&" if "?" in uri else "?") + "serverSelectionTimeoutMS=800"
        with pytest.raises(ConnectionFailed, match="failed while counting the drill's documents"), \
                connected(short, "counting the drill's documents") as client:
            server.stop()
            client.app.users.count_documents({})
    finally:
        server.stop()
