"""Helpers for the MongoDB migration tests: writing sets, running the engine, comparing database states."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pymongo
import yaml
from bson import json_util

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine

DBOPS_COLLECTIONS = ("dbops_migrations", "dbops_lock", "dbops_progress", "dbops_touched")


def write_mongo_set(root: Path, name: str, *, yml: Any = None, py: str | None = None,
                    manifest: dict | None = None, pg_up: str | None = None, pg_down: str | None = None,
                    pg_verify: str | None = None) -> Path:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    if yml is not None:
        text = yml if isinstance(yml, str) else yaml.safe_dump(yml, sort_keys=False)
        (directory / "mongodb.yml").write_text(text)
    if py is not None:
        (directory / "mongodb.py").write_text(textwrap.dedent(py))
    if manifest is not None:
        (directory / "migration.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for filename, sql in (("postgres.up.sql", pg_up), ("postgres.down.sql", pg_down),
                          ("postgres.verify.sql", pg_verify)):
        if sql is not None:
            (directory / filename).write_text(textwrap.dedent(sql))
    return directory


def run(uri: str, database: str, migrations: Path, **kwargs: Any) -> engine.RunResult:
    kwargs.setdefault("runner_lock_wait_s", 10)
    return engine.run(engine.RunRequest(migrations_dir=str(migrations), mongodb_uri=uri, mongodb_database=database,
                                        **kwargs))


def _ejson(value: Any) -> str:
    return json_util.dumps(value, sort_keys=False)


def snapshot(db: pymongo.database.Database, *, ordered_fields: bool = True) -> dict[str, Any]:
    """Everything a migration may change, except the engine's own collections: per collection its documents
    (full content, field order kept unless ordered_fields=False), index specs and validation options."""
    state: dict[str, Any] = {}
    for info in sorted(db.list_collections(), key=lambda i: i["name"]):
        name = info["name"]
        if name in DBOPS_COLLECTIONS:
            continue
        docs = list(db[name].find().sort("_id", 1))
        if ordered_fields:
            docs_repr = [_ejson(d) for d in docs]
        else:
            docs_repr = [json.dumps(json.loads(_ejson(d)), sort_keys=True) for d in docs]
        indexes = sorted(_ejson({k: v for k, v in ix.items() if k != "ns"}) for ix in db[name].list_indexes())
        options = info.get("options") or {}
        validation = {"validator": options.get("validator") or {},
                      "level": options.get("validationLevel") or "strict",
                      "action": options.get("validationAction") or "error"}
        other = {k: v for k, v in options.items() if k not in ("validator", "validationLevel", "validationAction")}
        state[name] = {"documents": docs_repr, "indexes": indexes, "validation": _ejson(validation),
                       "options": _ejson(other)}
    return state


def ledger_status(db: pymongo.database.Database) -> dict[str, str]:
    return {d["_id"]: d["status"] for d in db.dbops_migrations.find({}, {"status": 1})}
