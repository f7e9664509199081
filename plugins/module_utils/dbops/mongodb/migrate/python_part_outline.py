"""What a mongodb.py declares, read from its syntax tree without running a line of it.

Check mode plans a code part from this outline only: the file's top level is never executed (an import there
could write a file, open a connection, or worse), and up() is never called. The outline is also the one check of
the file's shape, so a real run and check mode refuse the same files:

    BATCH_SIZE = 500 / PAUSE_MS = 50 / DRY_RUN_SAFE = True   literal constants (read without running the file)
    def up(db, ctx) / def down(db, ctx)                      required; validate(db, ctx) optional

A function bound otherwise than by `def` at the top level (an import, an assignment) counts as present; its
arguments are checked when the part is loaded for a real run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

FUNCTIONS = (("up", True), ("down", True), ("validate", False))


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    minimum: int | None = None


SETTINGS = (Setting("BATCH_SIZE", int, None, 1), Setting("PAUSE_MS", int, 0, 0), Setting("DRY_RUN_SAFE", bool, False))


@dataclass(frozen=True)
class PythonPartOutline:
    path: Path
    functions: frozenset[str]  # which of up, down, validate the file defines
    batch_size: int | None
    pause_ms: int
    dry_run_safe: bool
    description: str

    @property
    def has_validate(self) -> bool:
        return "validate" in self.functions


def _top_level_bindings(tree: ast.Module) -> dict[str, ast.stmt]:
    """name -> the last top-level statement binding it (a def, an assignment, an import)."""
    bound: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound[(alias.asname or alias.name).split(".")[0]] = node
    return bound


def _takes_db_and_ctx(node: ast.FunctionDef) -> bool:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    required_keywords = [a for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None]
    return required <= 2 and (len(positional) >= 2 or args.vararg is not None) and not required_keywords


def _check_function(name: str, node: ast.stmt | None, required: bool, path: Path, version: str | None) -> bool:
    if node is None:
        if required:
            what = "apply" if name == "up" else "roll back (every code migration needs one)"
            raise MigrationFormatError(f"defines no {name}(db, ctx) function: nothing to {what}",
                                       version=version, path=path)
        return False
    if isinstance(node, (ast.AsyncFunctionDef, ast.ClassDef)):
        raise MigrationFormatError(f"{name} must be a plain function {name}(db, ctx)", version=version, path=path)
    if isinstance(node, ast.FunctionDef) and not _takes_db_and_ctx(node):
        raise MigrationFormatError(f"{name} must take two arguments (db, ctx) (line {node.lineno})",
                                   version=version, path=path)
    return True


def _setting_value(setting: Setting, node: ast.stmt | None, path: Path, version: str | None) -> Any:
    if node is None:
        return setting.default
    value_node = getattr(node, "value", None)
    try:
        if not isinstance(value_node, ast.expr):  # bound by an import or a bare annotation
            raise ValueError(setting.name)
        value = ast.literal_eval(value_node)
    except ValueError:
        raise MigrationFormatError(f"{setting.name} must be a literal (line {node.lineno}): check mode reads it "
                                   "without running the file", version=version, path=path) from None
    is_kind = isinstance(value, setting.kind) and (setting.kind is bool or not isinstance(value, bool))
    if not is_kind or (setting.minimum is not None and value < setting.minimum):
        wanted = f"an integer >= {setting.minimum}" if setting.kind is int else f"a {setting.kind.__name__}"
        raise MigrationFormatError(f"{setting.name} must be {wanted}, not {value!r}", version=version, path=path)
    return value


def outline_python_part(source: str, path: Path, version: str | None) -> PythonPartOutline:
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise MigrationFormatError(f"syntax error at line {exc.lineno}: {exc.msg}", version=version,
                                   path=path) from exc
    bound = _top_level_bindings(tree)
    functions = frozenset(name for name, required in FUNCTIONS
                          if _check_function(name, bound.get(name), required, path, version))
    values = {s.name: _setting_value(s, bound.get(s.name), path, version) for s in SETTINGS}
    doc = ast.get_docstring(tree) or ""
    return PythonPartOutline(path=path, functions=functions, batch_size=values["BATCH_SIZE"],
                             pause_ms=values["PAUSE_MS"], dry_run_safe=values["DRY_RUN_SAFE"],
                             description=doc.strip().splitlines()[0] if doc.strip() else "")
