"""What a MongoDB part would destroy: drop collection, drop database, $unset of fields that hold data.

Declarative operations answer for themselves against the database as it is (operations/*.destructive). Code
cannot be judged that precisely, so mongodb.py is read as a syntax tree: outside down() and validate(), a call
of drop()/drop_collection()/drop_database()/delete_many() or a "$unset" key is a finding, with its line.
"""

from __future__ import annotations

import ast

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DestructiveChangeRefused
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part

_DESTRUCTIVE_CALLS = {"drop": "drop()", "drop_collection": "drop_collection()", "drop_database": "drop_database()",
                      "delete_many": "delete_many()"}
_UNDO_FUNCTIONS = ("down", "validate")


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in _UNDO_FUNCTIONS:
            return  # undoing up() is allowed to remove what up() added
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in _DESTRUCTIVE_CALLS:
            self.findings.append(f"{_DESTRUCTIVE_CALLS[name]} at line {node.lineno}")
        if name == "command" and node.args and isinstance(node.args[0], ast.Constant) and \
                node.args[0].value in ("drop", "dropDatabase"):
            self.findings.append(f"command({node.args[0].value!r}) at line {node.lineno}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if node.value == "$unset":
            self.findings.append(f"$unset at line {node.lineno}")


def python_findings(source: str) -> list[str]:
    """Destructive calls in a mongodb.py outside down()/validate() (the file already compiled: no SyntaxError)."""
    finder = _Finder()
    finder.visit(ast.parse(source))
    return finder.findings


def refuse_or_allow(mset: MigrationSet, findings: list[str], opts: RunOptions) -> None:
    """The one decision on what a part would destroy: refused unless allow_destructive, else a warning."""
    if mset.manifest.destructive and mset.postgres is None:
        findings = [*findings, "migration.yml declares destructive: true"]
    if not findings:
        return
    path = mongo_part(mset).path
    if not opts.allow_destructive:
        raise DestructiveChangeRefused("destructive change refused (allow_destructive is off): "
                                       + "; ".join(findings), version=mset.version, path=path)
    opts.warnings.append(f"{mset.version} ({path}): destructive change allowed: " + "; ".join(findings))
