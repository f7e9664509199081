# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one main() every sevenp.dbops module runs: from AnsibleModule parameters to exit_json or fail_json.

A module declares its arguments, builds its engine request and names its engine call; everything else happens
here, once: masking the secrets found in the connection and repository arguments, refusing to start when the
engine or a database driver cannot be imported, turning any exception into one fail_json with a redacted message
(never a traceback on the console), and redacting every returned value.

Ansible-side glue, unlike the engine in dbops/: it talks to AnsibleModule and to missing_required_lib.
"""

from __future__ import annotations

import contextlib
import importlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import MISSING, asdict, fields, is_dataclass
from typing import Any

from ansible.module_utils.basic import (
    env_fallback,
    missing_required_lib,
)
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    connection_argument_spec,
    connection_secrets,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import (
    postgres_server_argument_spec,
    repository_argument_spec,
    repository_secrets,
)

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact, redact_value
except ImportError:  # the module then fails on its own engine import, before any message needs the engine's redaction
    class DbopsError(Exception):  # type: ignore[no-redef]  # the stand-in for the guarded import's class
        """Never raised: stands in so that isinstance() below works without the engine."""

    def redact(text: str, known: Iterable[str] = ()) -> str:
        for secret in known:
            text = text.replace(secret, "********")
        return text

    def redact_value(value: Any, known: Iterable[str] = ()) -> Any:
        return value

ENGINE_LIBRARY = "the sevenp.dbops engine (module_utils)"

# The driver each connection argument needs; imported only when the argument is given.
DRIVER_FOR_ARGUMENT = {"postgres_dsn": "psycopg", "mongodb_uri": "pymongo"}

Params = dict[str, Any]


class EngineImport:
    """Wraps a module's engine imports: `with ENGINE:` then the imports; a failed import is kept, not raised.

    The imports stay static statements in the module, so that Ansible still ships the engine files they name.
    """

    def __init__(self) -> None:
        self.error: str | None = None

    def __enter__(self) -> EngineImport:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and issubclass(exc_type, ImportError):
            self.error = "".join(traceback.format_exception(exc_type, exc, tb))
            return True
        return False


def set_env_fallback(*args, **kwargs) -> str:
    """env_fallback for a variable that is set and not empty.

    A controller's credential (an AWX custom credential type) injects every one of its fields, an empty field as an
    empty variable: that means "not given", like an unset one, never an empty value.
    """
    value = env_fallback(*args, **kwargs)
    if value == "":
        raise AnsibleFallbackNotFound
    return value


def dbops_argument_spec(own: dict, *, repository: bool = False, postgres_server: bool = False) -> dict:
    """The connection options (plus the repository's and the cluster's when asked) and the module's own ones."""
    spec = connection_argument_spec(set_env_fallback)
    if repository:
        spec.update(repository_argument_spec(set_env_fallback))
    if postgres_server:
        spec.update(postgres_server_argument_spec())
    spec.update(own)
    return spec


def engine_defaults(request_class: Any, fields_by_option: dict[str, str]) -> dict[str, Any]:
    """The defaults of an engine request record, by module option: the engine is their only home.

    A module's argument spec takes them from here, and its DOCUMENTATION repeats them for ansible-doc; the sanity
    test validate-modules fails when the two differ, so a default changed in the engine cannot drift from the docs.
    Without the engine (its import failed) there are none: the module fails with missing_required_lib anyway.
    """
    if request_class is None:
        return {}
    defaults = {field.name: field.default for field in fields(request_class) if field.default is not MISSING}
    return {option: defaults[name] for option, name in fields_by_option.items() if name in defaults}


def plain(value: Any) -> Any:
    """Engine records (dataclasses, tuples, paths, datetimes) as JSON-friendly values."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def engine_result(outcome: Any) -> dict:
    """An engine outcome as return values: a result record's as_dict() without its empty (None) keys, or a dict."""
    if hasattr(outcome, "as_dict"):
        return {key: value for key, value in plain(outcome.as_dict()).items() if value is not None}
    return plain(outcome)


def missing_driver(params: Params) -> tuple[str, str] | None:
    """(library, traceback) of the first database driver a given connection argument needs and cannot import."""
    for argument, library in DRIVER_FOR_ARGUMENT.items():
        if not params.get(argument):
            continue
        try:
            importlib.import_module(library)
        except ImportError:
            return library, traceback.format_exc()
    return None


class ModuleFailure(Exception):
    """Raised inside run_module's phases so that one place turns it into fail_json."""

    def __init__(self, msg: str, details: dict | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details or {}


def failure_for(exc: BaseException, engine: str, failure_details: Callable[[BaseException], dict] | None
                ) -> ModuleFailure:
    """The one message (and return values) a failed engine call reports."""
    if isinstance(exc, DbopsError):
        details = {"error_type": type(exc).__name__}
        details.update({key: getattr(exc, key) for key in ("version", "path") if getattr(exc, key, None)})
        msg = str(exc)
    else:  # a bug, not a database problem: still one message, with the traceback for -vvv
        details = {"exception": traceback.format_exc()}
        msg = f"unexpected {type(exc).__name__} in {engine}: {exc}"
    if failure_details is not None:
        # What the run did is a bonus; the failure itself must still be reported.
        with contextlib.suppress(Exception):
            details.update(failure_details(exc))
    return ModuleFailure(msg, details)


def run_module(module, *, engine: str, engine_import: EngineImport, build: Callable[[Params, bool], Any],
               run: Callable[[Any], Any], result: Callable[[Any], dict] = engine_result,
               failure_details: Callable[[BaseException], dict] | None = None,
               diff: Callable[[dict], dict] | None = None) -> None:
    """Run one module invocation to its end (exit_json or fail_json); it never returns normally.

    engine names the engine in messages ("the backup engine"); engine_import holds the failure of the module's
    own engine imports, if any. build(params, check_mode) makes the engine request; a ValueError there is
    a bad argument combination and its message is the module's message. run(request) calls the engine and
    result(outcome) turns its outcome into return values; any exception from either becomes one fail_json, with
    failure_details(exc) adding what the run did before it failed. diff(result) is the diff in diff mode.
    Modules pass run as a lambda: the engine's names exist only when its import worked, and that is checked here.
    """
    params = module.params
    secrets = [*connection_secrets(params), *repository_secrets(params)]
    # A no_log parameter is masked whole; a driver error may still quote only its password.
    module.no_log_values.update(secrets)
    try:
        values = _run_phases(module, engine, engine_import.error, build, run, result, failure_details)
    except ModuleFailure as failure:
        details = {"queries": [], **failure.details}
        module.fail_json(msg=redact(failure.msg, secrets), **redact_value(plain(details), secrets))
        return
    warnings = [str(warning) for warning in values.pop("warnings", None) or []]
    values["changed"] = bool(values.get("changed"))
    values.setdefault("queries", [])
    if diff is not None and module._diff:
        values["diff"] = diff(values)
    for warning in warnings:
        module.warn(redact(warning, secrets))
    module.exit_json(**redact_value(values, secrets))


def _run_phases(module, engine: str, import_error: str | None, build, run, result, failure_details) -> dict:
    if import_error:
        raise ModuleFailure(missing_required_lib(ENGINE_LIBRARY), {"exception": import_error})
    missing = missing_driver(module.params)
    if missing:
        raise ModuleFailure(missing_required_lib(missing[0]), {"exception": missing[1]})
    try:
        request = build(module.params, module.check_mode)
    except (ValueError, DbopsError) as exc:  # arguments the engine cannot take: the message says why
        raise ModuleFailure(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001
        raise failure_for(exc, engine, None) from exc
    try:
        return plain(dict(result(run(request))))
    except Exception as exc:  # noqa: BLE001  # every engine failure, expected or not, leaves through here
        raise failure_for(exc, engine, failure_details) from exc
