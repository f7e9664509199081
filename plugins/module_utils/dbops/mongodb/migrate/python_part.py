"""mongodb.py: a MongoDB part written as code.

    BATCH_SIZE = 500          # optional defaults for ctx (the run's batch_size overrides BATCH_SIZE)
    PAUSE_MS = 50
    DRY_RUN_SAFE = True       # optional: check mode may call up() with ctx.dry_run (db is then read-only)

    def up(db, ctx): ...               # required
    def down(db, ctx): ...             # required: undoes up (also a partly done up)
    def validate(db, ctx) -> bool: ... # optional: False fails the set, which is then compensated

Loading compiles the file and runs its top level in a fresh namespace; a syntax error, an error at load time
or a missing up/down is a MigrationFormatError naming the file (and the line), raised before anything changes.
"""

from __future__ import annotations

import inspect
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError


@dataclass
class PythonPart:
    path: Path
    module: types.ModuleType
    up: Callable[..., Any]
    down: Callable[..., Any]
    validate: Callable[..., Any] | None
    batch_size: int | None
    pause_ms: int
    dry_run_safe: bool
    description: str


def user_line(exc: BaseException, path: Path) -> str:
    """' (mongodb.py line N)' for the innermost frame of the migration file in the traceback, or ''."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return f" ({path.name} line {line})" if line else ""


def _setting(module: types.ModuleType, name: str, default: Any, path: Path, version: str | None, *,
             kind: type, minimum: int | None = None) -> Any:
    value = getattr(module, name, default)
    if value is default:
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)) or \
            (minimum is not None and value < minimum):
        wanted = f"an integer >= {minimum}" if kind is int else f"a {kind.__name__}"
        raise MigrationFormatError(f"{name} must be {wanted}, not {value!r}", version=version, path=path)
    return value


def load_python_part(source: str, path: Path, version: str | None) -> PythonPart:
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise MigrationFormatError(f"syntax error at line {exc.lineno}: {exc.msg}", version=version,
                                   path=path) from exc
    module = types.ModuleType(f"dbops_mongodb_migration_{(version or 'x').replace('.', '_')}")
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)  # noqa: S102 - the migration file is code the operator chose to run
    except Exception as exc:
        raise MigrationFormatError(f"loading failed: {type(exc).__name__}: {exc}{user_line(exc, path)}",
                                   version=version, path=path) from exc
    functions = {}
    for name, required in (("up", True), ("down", True), ("validate", False)):
        fn = getattr(module, name, None)
        if fn is None:
            if required:
                what = "apply" if name == "up" else "roll back (every code migration needs one)"
                raise MigrationFormatError(f"defines no {name}(db, ctx) function: nothing to {what}",
                                           version=version, path=path)
            functions[name] = None
            continue
        if not callable(fn):
            raise MigrationFormatError(f"{name} must be a function {name}(db, ctx)", version=version, path=path)
        try:
            inspect.signature(fn).bind(None, None)
        except TypeError as exc:
            raise MigrationFormatError(f"{name} must take two arguments (db, ctx): {exc}", version=version,
                                       path=path) from exc
        functions[name] = fn
    return PythonPart(
        path=path, module=module, up=functions["up"], down=functions["down"], validate=functions["validate"],
        batch_size=_setting(module, "BATCH_SIZE", None, path, version, kind=int, minimum=1),
        pause_ms=_setting(module, "PAUSE_MS", 0, path, version, kind=int, minimum=0),
        dry_run_safe=bool(_setting(module, "DRY_RUN_SAFE", False, path, version, kind=bool)),
        description=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "",
    )
