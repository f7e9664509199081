"""A table name as migration.yml writes it (content.courses, "Odd Name") as psycopg identifiers."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import sql

_PART = re.compile(r'"([^"]+)"|([^."]+)')


def name_parts(name: str) -> list[str]:
    """The name's parts as PostgreSQL stores them: unquoted parts fold to lower case."""
    return [quoted if quoted else plain.lower() for quoted, plain in _PART.findall(name.strip())]


def table_identifier(name: str) -> Any:
    return sql.Identifier(*name_parts(name))


def column_identifier(name: str) -> Any:
    return sql.Identifier(name_parts(name)[0])


def column_name(name: str) -> str:
    return name_parts(name)[0]
