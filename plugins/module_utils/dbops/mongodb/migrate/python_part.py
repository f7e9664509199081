"""mongodb.py: a MongoDB part written as code, loaded to be run (never in check mode).

    BATCH_SIZE = 500          # optional defaults for ctx (the run's batch_size overrides BATCH_SIZE)
    PAUSE_MS = 50
    DRY_RUN_SAFE = True       # accepted for older files; check mode never runs migration code

    def up(db, ctx): ...               # required
    def down(db, ctx): ...             # required: undoes up (also a partly done up)
    def validate(db, ctx) -> bool: ... # optional: False fails the set, which is then compensated

The file's shape is checked first from its syntax tree (python_part_outline.py: the same check check mode makes);
loading then runs its top level in a fresh namespace. An error at load time or an up/down that is not a function
of (db, ctx) is a MigrationFormatError naming the file (and the line), raised before anything changes.
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
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part_outline import (
    FUNCTIONS,
    PythonPartOutline,
    outline_python_part,
)


@dataclass
class PythonPart:
    outline: PythonPartOutline
    module: types.ModuleType
    up: Callable[..., Any]
    down: Callable[..., Any]
    validate: Callable[..., Any] | None

    @property
    def path(self) -> Path:
        return self.outline.path


def user_line(exc: BaseException, path: Path) -> str:
    """' (mongodb.py line N)' for the innermost frame of the migration file in the traceback, or ''."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return f" ({path.name} line {line})" if line else ""


def _function(module: types.ModuleType, name: str, path: Path, version: str | None) -> Callable[..., Any] | None:
    fn = getattr(module, name, None)
    if fn is None:
        return None
    if not callable(fn):
        raise MigrationFormatError(f"{name} must be a function {name}(db, ctx)", version=version, path=path)
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError as exc:
        raise MigrationFormatError(f"{name} must take two arguments (db, ctx): {exc}", version=version,
                                   path=path) from exc
    return fn


def load_python_part(source: str, path: Path, version: str | None) -> PythonPart:
    outline = outline_python_part(source, path, version)
    code = compile(source, str(path), "exec")  # parsed already: no SyntaxError here
    module = types.ModuleType(f"dbops_mongodb_migration_{(version or 'x').replace('.', '_')}")
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)  # noqa: S102 - the migration file is code the operator chose to run
    except Exception as exc:
        raise MigrationFormatError(f"loading failed: {type(exc).__name__}: {exc}{user_line(exc, path)}",
                                   version=version, path=path) from exc
    functions = {name: _function(module, name, path, version) for name, _required in FUNCTIONS}
    required = {name: _still_defined(name, functions[name], path, version) for name, needed in FUNCTIONS if needed}
    return PythonPart(outline=outline, module=module, up=required["up"], down=required["down"],
                      validate=functions["validate"])


def _still_defined(name: str, fn: Callable[..., Any] | None, path: Path, version: str | None) -> Callable[..., Any]:
    if fn is None:  # bound in the file's text, gone after running it
        raise MigrationFormatError(f"defines no {name}(db, ctx) function once loaded", version=version, path=path)
    return fn
