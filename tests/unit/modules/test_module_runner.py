"""The one main() of every module: each path ends in exactly one exit_json or fail_json, with secrets masked."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError

DSN = "postgresql://app:s3cret-pw@db:5432/platform"


class ModuleExit(Exception):
    """How the fake module leaves, as AnsibleModule does with sys.exit."""


class FakeModule:
    def __init__(self, check_mode: bool = False, diff: bool = False, **params) -> None:
        self.params = {"postgres_dsn": None, "mongodb_uri": None, **params}
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values: set[str] = set()
        self.warnings: list[str] = []
        self.exited: dict | None = None
        self.failed: dict | None = None

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def exit_json(self, **kwargs) -> None:
        self.exited = kwargs
        raise ModuleExit

    def fail_json(self, **kwargs) -> None:
        self.failed = kwargs
        raise ModuleExit


class Outcome:
    def as_dict(self) -> dict:
        return {"changed": 1, "backup_id": None, "size": 3, "warnings": [f"reached {DSN}"],
                "steps": (f"connect {DSN}",)}


def runs(module: FakeModule, **kwargs) -> FakeModule:
    kwargs.setdefault("engine", "the test engine")
    kwargs.setdefault("engine_import", module_runner.EngineImport())
    kwargs.setdefault("build", lambda params, check_mode: params)
    with pytest.raises(ModuleExit):
        module_runner.run_module(module, **kwargs)
    assert (module.exited is None) != (module.failed is None), "exactly one of exit_json / fail_json"
    return module


def raising(exc: BaseException):
    def call(_request):
        raise exc
    return call


def test_result_is_shaped_redacted_and_always_has_queries():
    module = runs(FakeModule(postgres_dsn=None), run=lambda request: Outcome())
    assert module.exited == {"changed": True, "size": 3, "steps": ["connect postgresql://app:********@db:5432/platform"],
                             "queries": []}
    assert module.warnings == ["reached postgresql://app:********@db:5432/platform"]


def test_connection_passwords_are_registered_for_masking():
    module = runs(FakeModule(postgres_dsn=DSN, s3_secret_key="s3-secret-key"), run=lambda request: {})
    assert {"s3cret-pw", "s3-secret-key"} <= module.no_log_values


def test_engine_error_is_one_message_with_its_kind_and_place():
    error = DbopsError(f"cannot reach {DSN}", version="2024.010", path="/srv/m/2024.010")
    module = runs(FakeModule(), run=raising(error))
    assert module.failed["msg"] == "2024.010 (/srv/m/2024.010): cannot reach postgresql://app:********@db:5432/platform"
    assert module.failed["error_type"] == "DbopsError"
    assert (module.failed["version"], module.failed["path"]) == ("2024.010", "/srv/m/2024.010")
    assert module.failed["queries"] == [] and "exception" not in module.failed


def test_any_other_exception_is_one_redacted_message_not_a_traceback():
    module = runs(FakeModule(s3_secret_key="very-secret-key"), run=raising(KeyError("very-secret-key")))
    assert module.failed["msg"] == "unexpected KeyError in the test engine: '********'"
    assert "very-secret-key" not in module.failed["exception"] and "KeyError" in module.failed["exception"]


def test_failure_while_shaping_the_result_is_reported_too():
    module = runs(FakeModule(), run=lambda request: object(), result=lambda outcome: 1 / 0)
    assert module.failed["msg"].startswith("unexpected ZeroDivisionError in the test engine")


def test_failure_details_come_along_and_a_broken_hook_does_not_hide_the_failure():
    module = runs(FakeModule(), run=raising(DbopsError("half done")),
                  failure_details=lambda exc: {"applied": ("2024.010",), "changed": True})
    assert module.failed["applied"] == ["2024.010"] and module.failed["changed"] is True
    module = runs(FakeModule(), run=raising(DbopsError("half done")), failure_details=lambda exc: 1 / 0)
    assert module.failed["msg"] == "half done"


def test_bad_arguments_are_refused_with_their_own_message():
    def build(params, check_mode):
        raise ValueError("state=rolled_back needs target")

    module = runs(FakeModule(), build=build, run=lambda request: pytest.fail("the engine must not run"))
    assert module.failed == {"msg": "state=rolled_back needs target", "queries": []}


def test_unexpected_error_while_building_the_request_is_one_message():
    module = runs(FakeModule(), build=lambda params, check_mode: params["absent"], run=lambda request: {})
    assert module.failed["msg"] == "unexpected KeyError in the test engine: 'absent'"


def test_failed_engine_import_stops_before_anything_runs():
    engine_import = module_runner.EngineImport()
    with engine_import:
        import ansible_collections.sevenp.dbops.plugins.module_utils.dbops.not_there  # noqa: F401
    assert "ModuleNotFoundError" in engine_import.error
    module = runs(FakeModule(), engine_import=engine_import, run=lambda request: pytest.fail("must not run"))
    assert "the sevenp.dbops engine (module_utils)" in module.failed["msg"]
    assert module.failed["exception"] == engine_import.error


def test_engine_import_lets_other_errors_through():
    with pytest.raises(ZeroDivisionError), module_runner.EngineImport():
        raise ZeroDivisionError


def test_missing_driver_is_reported_with_missing_required_lib(monkeypatch):
    real = module_runner.importlib.import_module

    def no_pymongo(name):
        if name == "pymongo":
            raise ImportError("No module named 'pymongo'")
        return real(name)

    monkeypatch.setattr(module_runner.importlib, "import_module", no_pymongo)
    module = runs(FakeModule(mongodb_uri="mongodb://h/"), run=lambda request: pytest.fail("must not run"))
    assert "pymongo" in module.failed["msg"] and "No module named" in module.failed["exception"]
    assert runs(FakeModule(), run=lambda request: {}).exited is not None  # no mongodb_uri: pymongo not needed


def test_diff_is_added_only_in_diff_mode():
    diff = {"diff": lambda result: {"before": result["size"]}}
    assert "diff" not in runs(FakeModule(), run=lambda request: {"size": 1}, **diff).exited
    assert runs(FakeModule(diff=True), run=lambda request: {"size": 1}, **diff).exited["diff"] == {"before": 1}


def test_request_is_built_with_check_mode():
    seen = []
    runs(FakeModule(check_mode=True), build=lambda params, check_mode: seen.append(check_mode),
         run=lambda request: {})
    assert seen == [True]


def test_argument_spec_joins_the_shared_options():
    spec = module_runner.dbops_argument_spec({"name": {"type": "str"}}, repository=True, postgres_server=True)
    assert {"postgres_dsn", "repository", "s3_secret_key", "pg_bin_dir", "name"} <= set(spec)
    assert set(module_runner.dbops_argument_spec({})) == {"postgres_dsn", "mongodb_uri", "mongodb_database"}


def test_migrate_takes_its_defaults_from_the_engine_request():
    import dataclasses
    from dataclasses import fields

    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import RunRequest
    from ansible_collections.sevenp.dbops.plugins.modules import migrate

    spec = migrate.argument_spec()
    engine = {f.name: f.default for f in fields(RunRequest) if f.default is not dataclasses.MISSING}
    for option, field_name in migrate._REQUEST_FIELDS.items():
        if engine.get(field_name) is not None and option in spec:
            assert spec[option].get("default") == engine[field_name], option
    assert "default" not in spec["lock_timeout"] and "default" not in spec["batch_size"]
    assert module_runner.engine_defaults(None, migrate._REQUEST_FIELDS) == {}
