"""Which other tool's history a run reads: the `adopt` choice, the directory's format and the tables present.

`auto` reads a tool's history only when the directory is in that tool's format AND its table is present; naming a
tool requires its format (a Flyway history says nothing about golang-migrate files). Readers are imported by name
when needed, so a tool's reader is loaded only for that tool's directories.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.history import (
    AdoptionRefused,
    HistoryReader,
)

# The directory format each tool's migrations come in (discovery's names).
TOOL_FORMAT = {"flyway": "flyway", "golang-migrate": "golang-migrate", "dbmate": "dbmate", "sqitch": "sqitch"}


def history_reader(tool: str) -> HistoryReader:
    """The reader of one tool (imported here, statically, so Ansible's module packer ships each reader)."""
    if tool == "flyway":
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.flyway import FlywayHistory

        return FlywayHistory()
    if tool == "golang-migrate":
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.golang_migrate import (
            GolangMigrateHistory,
        )

        return GolangMigrateHistory()
    if tool == "dbmate":
        from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.dbmate import DbmateHistory

        return DbmateHistory()
    if tool == "sqitch":
        try:
            from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.adopt.sqitch import (
                SqitchHistory,
            )
        except ImportError as exc:
            raise AdoptionRefused("adopting Sqitch's registry is not available in this release") from exc
        return SqitchHistory()
    raise AdoptionRefused(f"no history reader for {tool!r}")


def choose_reader(conn: Any, choice: str, fmt: str, warnings: list[str]) -> HistoryReader | None:
    """The reader this run uses, or None (adopt: none, a native directory, or no history table)."""
    if choice == "none":
        return None
    if choice == "auto":
        tool = next((t for t, f in TOOL_FORMAT.items() if f == fmt), None)
        if tool is None:
            return None
        reader = history_reader(tool)
        return reader if reader.present(conn) else None
    if TOOL_FORMAT.get(choice) != fmt:
        raise AdoptionRefused(f"adopt is {choice}, but migrations_dir is in {fmt} format, not {choice}'s: point "
                              f"migrations_dir at the {choice} migrations, or use adopt: auto or none")
    reader = history_reader(choice)
    if not reader.present(conn):
        warnings.append(f"adopt is {choice}, but this database has no {choice} history: nothing to take over")
        return None
    return reader
