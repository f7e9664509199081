"""MongoDB half of the migration engine: ledger, runner lock, declarative operations and code migrations."""
