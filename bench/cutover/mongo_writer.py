"""The MongoDB application during the switch: one client inserting through HAProxy as the application's user,
one document at a time, each with a number of its own as _id, retrying the same document after an error as an
application would.

The client's figures: the time of every acknowledged insert (the largest gap between two of them is the write
gap), the attempts that raised (a refusal by the fence, a connection HAProxy cut), and the _ids acknowledged, so
that every one of them can be looked for on the new side afterwards.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pymongo
import pymongo.errors

COLLECTION = "bench_cutover_writes"


@dataclass
class MongoWriter:
    uri: str
    database: str
    acked: list[tuple[int, float]] = field(default_factory=list)  # (_id, time.time() of the acknowledgement)
    failed_attempts: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # exception class -> how many
    error_samples: list[str] = field(default_factory=list)  # the first few distinct messages, for the report
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MongoWriter:
        self._thread = threading.Thread(target=self._run, name="bench-cutover-mongo-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        client: pymongo.MongoClient = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=2000,
                                                          connectTimeoutMS=2000, socketTimeoutMS=5000)
        collection = client[self.database][COLLECTION]
        number = 0
        try:
            while not self._stop.is_set():
                try:
                    collection.insert_one({"_id": number, "at": time.time()})
                except pymongo.errors.DuplicateKeyError:
                    # An earlier attempt reached the server but its answer was lost: the document is there.
                    pass
                except pymongo.errors.PyMongoError as error:
                    self.failed_attempts += 1
                    name = type(error).__name__
                    self.errors[name] = self.errors.get(name, 0) + 1
                    sample = f"{name}: {str(error)[:200]}"
                    if len(self.error_samples) < 5 and sample not in self.error_samples:
                        self.error_samples.append(sample)
                    time.sleep(0.002)
                    continue
                self.acked.append((number, time.time()))
                number += 1
        finally:
            client.close()

    @property
    def ends(self) -> list[float]:
        return [at for _number, at in self.acked]

    def missing_on(self, admin_uri: str) -> int:
        """Acknowledged inserts that are not on the server of admin_uri (0 means none was lost)."""
        wanted = {number for number, _at in self.acked}
        client: pymongo.MongoClient = pymongo.MongoClient(admin_uri, serverSelectionTimeoutMS=5000)
        with client:
            found = {doc["_id"] for doc in client[self.database][COLLECTION].find({}, {"_id": 1})}
        return len(wanted - found)


def fresh_client_write(uri: str, database: str) -> str:
    """A write by a brand-new client (a new connection, a new login) after the switch: "ok" or the error."""
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000)
    try:
        with client:
            client[database][COLLECTION].insert_one({"_id": "fresh client after the switch", "at": time.time()})
        return "ok"
    except pymongo.errors.PyMongoError as error:
        return f"{type(error).__name__}: {str(error)[:200]}"


def holds(admin_uri: str, database: str, document_id: object) -> bool:
    client: pymongo.MongoClient = pymongo.MongoClient(admin_uri, serverSelectionTimeoutMS=5000)
    with client:
        return client[database][COLLECTION].find_one({"_id": document_id}) is not None
