"""PostgreSQL side of the engine: connection, SQL splitting, ledger, locks, backfills and the part executor."""
