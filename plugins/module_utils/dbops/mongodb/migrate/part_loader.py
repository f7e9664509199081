"""Reading a set's MongoDB part: declared (parsed, never run) for planning, runnable for applying.

A code part is planned from its outline (python_part_outline.py): nothing of mongodb.py runs. _loaded_code() is
the only way to a PythonPart (runnable() and runnable_code() both go through it), whose loading executes the file's
top level; it refuses in check mode, so no path of a check-mode run can execute migration code.
"""

from __future__ import annotations

from typing import Union

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.model import MigrationSet
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.part_protocol import RunOptions
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part import (
    PythonPart,
    load_python_part,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.python_part_outline import (
    PythonPartOutline,
    outline_python_part,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.set_part import mongo_part
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.mongodb.migrate.yaml_part import (
    YamlPart,
    parse_yaml_part,
)

DeclaredPart = Union[YamlPart, PythonPartOutline]
RunnablePart = Union[YamlPart, PythonPart]


class PartLoader:
    def __init__(self) -> None:
        self._declared: dict[tuple[str, str], DeclaredPart] = {}
        self._runnable: dict[tuple[str, str], PythonPart] = {}

    def declared(self, mset: MigrationSet) -> DeclaredPart:
        part = mongo_part(mset)
        key = (mset.version, part.checksum)
        if key not in self._declared:
            if part.kind == "python":
                self._declared[key] = outline_python_part(part.source, part.path, mset.version)
            else:
                self._declared[key] = parse_yaml_part(part.source, part.path, mset.version)
        return self._declared[key]

    def runnable(self, mset: MigrationSet, opts: RunOptions) -> RunnablePart:
        declared = self.declared(mset)
        if isinstance(declared, YamlPart):
            return declared
        return self._loaded_code(mset, opts)

    def runnable_code(self, mset: MigrationSet, opts: RunOptions) -> PythonPart:
        """runnable() of a part that is code (kind "python"), e.g. to run its down() from what the ledger says."""
        if isinstance(self.declared(mset), YamlPart):
            raise DbopsError("internal error: a declarative MongoDB part was taken for a code part",
                             version=mset.version, path=mongo_part(mset).path)
        return self._loaded_code(mset, opts)

    def _loaded_code(self, mset: MigrationSet, opts: RunOptions) -> PythonPart:
        part = mongo_part(mset)
        if opts.check_mode:  # the engine never asks; this keeps it so
            raise DbopsError("internal error: a mongodb.py was about to be loaded in check mode",
                             version=mset.version, path=part.path)
        key = (mset.version, part.checksum)
        if key not in self._runnable:
            self._runnable[key] = load_python_part(part.source, part.path, mset.version)
        return self._runnable[key]
