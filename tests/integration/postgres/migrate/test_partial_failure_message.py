"""An error after a committed non-transactional statement says the set is partial and what a rerun does."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import MigrationFailed
from tests.support.pg_migrations import ledger, query, run, write_set

UP = """CREATE TABLE orders (id int PRIMARY KEY, qty int);
INSERT INTO orders VALUES (1, 0);
CREATE INDEX CONCURRENTLY orders_qty_idx ON orders (qty);
UPDATE orders SET qty = 10 / (SELECT qty FROM orders WHERE id = 1);
"""


def test_error_after_a_non_transactional_statement_names_the_partial_state_and_the_rerun(pg_db, migrations):
    directory = write_set(migrations, "1_orders", up=UP, down="DROP TABLE orders;")
    with pytest.raises(MigrationFailed) as err:
        run(pg_db, migrations)
    message = str(err.value)
    up_file, down_file = directory / "postgres.up.sql", directory / "postgres.down.sql"
    assert message.startswith(f"1 ({up_file}): statement 4 (line 4: UPDATE orders SET qty = 10 ...) failed: "
                              "division by zero")
    assert "The set is now partial: 3 of its statements are committed" in message
    assert f"a rerun resumes after statement 3 (line 3) of {up_file} (on_partial: resume)" in message
    assert f"with on_partial: compensate a rerun undoes it with {down_file} instead" in message
    status, recorded = ledger(pg_db)["1"]
    assert status == "partial" and recorded == message  # the ledger says the same as the error

    # What the message promised: compensate undoes the committed statements with the down.
    result = run(pg_db, migrations, on_partial="compensate")
    assert result.rolled_back == ["1"]
    assert query(pg_db, "SELECT to_regclass('orders')") == [(None,)]


def test_without_a_down_the_message_says_compensation_cannot_undo_it(pg_db, migrations):
    directory = write_set(migrations, "1_orders", up=UP)
    with pytest.raises(MigrationFailed) as err:
        run(pg_db, migrations)
    assert "on_partial: compensate cannot undo it (the set has no down SQL)" in str(err.value)
    query(pg_db, "UPDATE orders SET qty = 5")
    # The promised resume: statements 1-3 are not repeated (repeating 1 would fail: the table exists).
    assert run(pg_db, migrations).applied == ["1"]
    assert query(pg_db, "SELECT qty FROM orders") == [(2,)]
    assert directory.exists()
