"""Whether one archived WAL file is usable: present, of the cluster's segment size, and matching its sha256.

The one check both ends of an archive rely on: a base backup is reported good only once its WAL passes it, and a
restore runs it over every file recovery will read before it stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.wal.archiver import wal_key
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.base import (
    ChecksumMismatch,
    ObjectMissing,
    Repository,
)


@dataclass(frozen=True)
class WalFileProblem:
    name: str
    problem: str

    def describe(self) -> str:
        return f"{self.name} {self.problem}"


def wal_file_problem(repo: Repository, name: str, expected_size: int | None) -> WalFileProblem | None:
    """What is wrong with archived WAL file name (None: present, complete, checksum verified).

    expected_size is the cluster's WAL segment size for segments, None for history and backup history files.
    """
    key = wal_key(name)
    info = repo.head(key)
    if info is None:
        return WalFileProblem(name, "is missing from the archive")
    if expected_size is not None and info.size != expected_size:
        return WalFileProblem(name, f"is {info.size} bytes instead of the cluster's WAL segment size of "
                                    f"{expected_size} bytes (truncated)")
    try:
        repo.verify(key)
    except ObjectMissing:
        return WalFileProblem(name, "is missing from the archive")
    except ChecksumMismatch as exc:
        return WalFileProblem(name, f"is corrupted: {exc.message}")
    return None


def wal_problems(repo: Repository, wanted: list[tuple[str, int | None]]) -> list[WalFileProblem]:
    """The problems of every (name, expected size) in wanted, in order."""
    return [problem for name, size in wanted if (problem := wal_file_problem(repo, name, size)) is not None]


def describe_problems(problems: list[WalFileProblem], shown: int = 5) -> str:
    text = "; ".join(problem.describe() for problem in problems[:shown])
    return text + (f" (and {len(problems) - shown} more)" if len(problems) > shown else "")
