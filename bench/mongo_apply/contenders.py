"""The ways of running the same add-field migration that bench.mongo_apply compares.

Every contender gives each document without `preferences` the same preferences sub-document, one document
update per document, in batches of BATCH documents:
- the engine: a mongodb.yml with one add_field operation, through engine.run() (lock, ledger, checkpoint and
  the record of touched _ids per batch, in one transaction per batch). Its per-document update is guarded,
  {_id: X, preferences: {$exists: false}}, so a value the application wrote meanwhile is never overwritten;
- plain pymongo: one cursor over the _ids, UpdateOne requests sent with bulk_write every BATCH documents
  (the floor: no lock, no ledger, no resumability);
- migrate-mongo (npm): its `up` does the same as the plain loop in Node.js, with migrate-mongo's changelog.
The plain loop and migrate-mongo run twice: with the engine's guarded update (the same work on the server,
so the ratio is the engine's own overhead) and with the naive {_id: X} update.
An informational row runs migrate-mongo with a single updateMany: one server-side statement, no batches,
nothing to resume from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.support.repo_paths import TOOLS_DIR

BATCH = 1000
PREFERENCES = {"theme": "light", "language": "en", "timezone": "UTC",
               "notifications": {"email_marketing": False, "email_course_updates": True}}
MIGRATE_MONGO_VERSION = "14.0.7"
MONGODB_DRIVER_VERSION = "7.9.0"


def plain_pymongo(client: Any, database: str, *, guarded: bool) -> float:
    from pymongo import UpdateOne

    users = client[database].users
    guard = {"preferences": {"$exists": False}} if guarded else {}
    started = time.perf_counter()
    ops = []
    for doc in users.find({"preferences": {"$exists": False}}, {"_id": 1}):
        ops.append(UpdateOne({"_id": doc["_id"], **guard}, {"$set": {"preferences": PREFERENCES}}))
        if len(ops) == BATCH:
            users.bulk_write(ops, ordered=False)
            ops = []
    if ops:
        users.bulk_write(ops, ordered=False)
    return time.perf_counter() - started


def write_engine_set(root: Path) -> Path:
    directory = root / "2024.001_user_preferences"
    directory.mkdir(parents=True)
    (directory / "mongodb.yml").write_text(json.dumps({
        "settings": {"batch_size": BATCH, "pause_ms": 0},
        "operations": [{"add_field": {"collection": "users", "field": "preferences", "default": PREFERENCES}}],
    }, indent=1))
    return root


def engine_run(uri: str, database: str, migrations: Path) -> float:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine

    started = time.perf_counter()
    result = engine.run(engine.RunRequest(migrations_dir=str(migrations), mongodb_uri=uri,
                                          mongodb_database=database))
    elapsed = time.perf_counter() - started
    if result.applied != ["2024.001"]:
        raise SystemExit(f"the engine did not apply the set: {result}")
    return elapsed


def ensure_migrate_mongo() -> Path:
    binary = TOOLS_DIR / "node_modules" / ".bin" / "migrate-mongo"
    marker = TOOLS_DIR / f".migrate-mongo-{MIGRATE_MONGO_VERSION}-mongodb-{MONGODB_DRIVER_VERSION}"
    if binary.exists() and marker.exists():
        return binary
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install migrate-mongo: apt-get install -y npm")
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"installing npm migrate-mongo@{MIGRATE_MONGO_VERSION} mongodb@{MONGODB_DRIVER_VERSION} into {TOOLS_DIR}",
          flush=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(TOOLS_DIR),
                    f"migrate-mongo@{MIGRATE_MONGO_VERSION}", f"mongodb@{MONGODB_DRIVER_VERSION}"], check=True)
    marker.touch()
    return binary


BATCHED_JS = """
module.exports = {
  async up(db) {
    const users = db.collection('users');
    const preferences = %(preferences)s;
    let batch = [];
    for await (const user of users.find({preferences: {$exists: false}}, {projection: {_id: 1}})) {
      batch.push({updateOne: {filter: {_id: user._id%(guard)s}, update: {$set: {preferences}}}});
      if (batch.length === %(batch)d) {
        await users.bulkWrite(batch, {ordered: false});
        batch = [];
      }
    }
    if (batch.length > 0) {
      await users.bulkWrite(batch, {ordered: false});
    }
  },
  async down(db) {
    await db.collection('users').updateMany({}, {$unset: {preferences: ''}});
  },
};
"""

UPDATE_MANY_JS = """
module.exports = {
  async up(db) {
    await db.collection('users').updateMany({preferences: {$exists: false}}, {$set: {preferences: %(preferences)s}});
  },
  async down(db) {
    await db.collection('users').updateMany({}, {$unset: {preferences: ''}});
  },
};
"""


def migrate_mongo_project(root: Path, uri: str, database: str, *, single_update: bool, guarded: bool) -> Path:
    """A migrate-mongo working directory with its config and one migration."""
    (root / "migrations").mkdir(parents=True)
    (root / "migrate-mongo-config.js").write_text(
        "module.exports = {\n"
        f"  mongodb: {{url: {json.dumps(uri)}, databaseName: {json.dumps(database)}, options: {{}}}},\n"
        "  migrationsDir: 'migrations',\n  changelogCollectionName: 'changelog',\n"
        "  lockCollectionName: 'changelog_lock',\n  lockTtl: 0,\n"
        "  migrationFileExtension: '.js',\n  useFileHash: false,\n  moduleSystem: 'commonjs',\n};\n")
    template = UPDATE_MANY_JS if single_update else BATCHED_JS
    guard = ", preferences: {$exists: false}" if guarded else ""
    body = template % {"preferences": json.dumps(PREFERENCES), "batch": BATCH, "guard": guard}
    (root / "migrations" / "20240101000000-user-preferences.js").write_text(body)
    return root


def migrate_mongo_run(binary: Path, project: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(binary), "up"], cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "MIGRATED UP" not in done.stdout:
        raise SystemExit(f"migrate-mongo failed (rc {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed
