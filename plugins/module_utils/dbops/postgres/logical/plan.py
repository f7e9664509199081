"""A planned change of the set-up and THE one way it is carried out: check mode records what each action would do,
a real run does it (recording what it runs); both fill `queries` with the same masked text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.secrets import redact
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.connection import psycopg
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.postgres.logical.steps import LogicalReplicationFailed


@dataclass(frozen=True)
class Action:
    what: str  # a short name, for messages ("copy the schema")
    shown: list[str]  # the (masked) statements and commands it runs, as check mode lists them
    run: Callable[[list[str]], Any]  # does it, appending what it runs to the list given


def carry_out(actions: Sequence[Action], queries: list[str], *, check_mode: bool) -> None:
    for action in actions:
        if check_mode:
            queries.extend(action.shown)
        else:
            action.run(queries)


def prefixed(side: str, texts: Sequence[str]) -> list[str]:
    """Statements of one side as `queries` shows them ("source: ...", "target: ...")."""
    return [f"{side}: {text}" for text in texts]


def statement_action(conn: Any, side: str, what: str, query: Any, shown: str | None = None) -> Action:
    """One statement on one side's autocommit connection; shown is the masked text of a statement with a secret."""
    text = f"{side}: {shown if shown is not None else redact(query.as_string(None))}"

    def run(queries: list[str]) -> None:
        queries.append(text)
        try:
            conn.execute(query)
        except psycopg.Error as exc:
            raise LogicalReplicationFailed(f"{text} failed: {str(exc).strip()}") from None

    return Action(what, [text], run)
