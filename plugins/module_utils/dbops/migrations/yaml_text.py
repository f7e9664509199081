"""Parsing YAML text of a migration file, with syntax errors naming the file, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:  # guarded: ansible-test's import sanity test loads module_utils without PyYAML
    import yaml
except ImportError:  # pragma: no cover
    yaml = None  # type: ignore[assignment]

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFormatError

# the C loader is several times faster; discovery of hundreds of sets notices
_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] | None = (getattr(yaml, "CSafeLoader", None)
                                                                  or getattr(yaml, "SafeLoader", None))


def parse_yaml(text: str, path: Path) -> Any:
    """The YAML document in text (safe loader only); MigrationFormatError naming path on any problem."""
    if yaml is None or _Loader is None:
        raise MigrationFormatError(f"reading {path.name} needs the Python package PyYAML", path=path)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - CSafeLoader/SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MigrationFormatError(f"invalid YAML{where}: {problem}", path=path) from exc
