"""No secret leaves a run: to_dict() and the error of a failed run pass everything through core.secrets."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError, MigrationFailed
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.result import RunResult
from tests.unit.migrations.fake_executor import FakeExecutor

ROLE_SECRET = "hunter2secret"
DSN_SECRET = "dsn-pass-4711"
DSN = f"postgresql://migrator:{DSN_SECRET}@db.internal:5432/app"
URI_SECRET = "mongo-pass-0815"
URI = f"mongodb://migrator:{URI_SECRET}@mongo.internal:27017/?authSource=admin"
SQL = f"CREATE ROLE reporting LOGIN PASSWORD '{ROLE_SECRET}';\nCREATE TABLE t (id int);\n"


class EchoingExecutor(FakeExecutor):
    """Plans, runs and fails the way a real driver would: quoting the SQL, the DSN and the bare password."""

    def plan_apply(self, mset, opts):
        opts.warnings.append(f"{mset.version}: connecting with {DSN}")
        return [mset.postgres.up_sql] if self.name == "postgres" else [f"// mongodb {mset.version}"]

    def apply(self, mset, opts, queries):
        if self.name == "postgres":
            queries.append(mset.postgres.up_sql)
        super().apply(mset, opts, queries)


class QuotingError(Exception):
    pass


@pytest.fixture
def tree(tmp_path):
    directory = tmp_path / "1_roles"
    directory.mkdir()
    (directory / "postgres.up.sql").write_text(SQL)
    (directory / "postgres.down.sql").write_text("DROP ROLE reporting;")
    (directory / "mongodb.yml").write_text("operations: []\n")
    return tmp_path


def _run(tree, executors, **kwargs):
    request = engine.RunRequest(migrations_dir=str(tree), postgres_dsn=DSN, mongodb_uri=URI,
                                mongodb_database="app", **kwargs)
    return engine.run(request, executors=executors)


def _assert_clean(value):
    text = json.dumps(value, default=str)
    for secret in (ROLE_SECRET, DSN_SECRET, URI_SECRET):
        assert secret not in text, secret
    return text


@pytest.mark.parametrize("check_mode", [True, False])
def test_no_secret_in_to_dict(tree, check_mode):
    journal = []
    executors = {name: EchoingExecutor(name, journal) for name in ("postgres", "mongodb")}
    result = _run(tree, executors, check_mode=check_mode)
    data = result.to_dict()
    text = _assert_clean(data)
    assert "PASSWORD '********'" in text and "migrator:********@db.internal" in text
    assert data["plan"][0]["postgres_source"]["transactional"] is True
    assert any("CREATE TABLE t" in q for q in data["queries"])
    assert "known_secrets" not in data


def test_no_secret_in_the_error_or_the_result_of_a_failed_run(tree):
    journal = []
    raw = QuotingError(f"connection to {URI} lost while running {SQL!r}; auth {DSN_SECRET} {URI_SECRET}")
    executors = {"postgres": EchoingExecutor("postgres", journal),
                 "mongodb": EchoingExecutor("mongodb", journal, explode={("apply", "1"): raw})}
    with pytest.raises(MigrationFailed) as err:
        _run(tree, executors)
    _assert_clean([str(err.value), err.value.message, err.value.args])
    data = _assert_clean(err.value.result.to_dict())
    assert "QuotingError" in str(err.value) and "postgres part compensated" in str(err.value)
    assert "QuotingError" in data  # the failed set's error is in the result too, redacted
    # the ledger row of the compensated part is written redacted as well
    assert DSN_SECRET not in executors["postgres"].entries["1"].error


def test_engine_error_quoting_a_password_is_redacted(tree):
    class Refusing(EchoingExecutor):
        def connect(self):
            raise DbopsError(f"cannot connect: FATAL: password {DSN_SECRET!r} rejected for {DSN}")

    journal = []
    with pytest.raises(DbopsError) as err:
        _run(tree, {"postgres": Refusing("postgres", journal), "mongodb": EchoingExecutor("mongodb", journal)})
    _assert_clean([str(err.value), err.value.message, err.value.args])


def test_to_dict_redacts_every_field():
    result = RunResult(known_secrets=("s3cr3t-value",))
    result.sets.append({"version": "1", "error": "failed: s3cr3t-value"})
    result.warnings.append(f"see {DSN}")
    result.pending.append("s3cr3t-value")
    _assert_clean(result.to_dict())
    assert "s3cr3t-value" not in json.dumps(result.to_dict())
