"""The PostgreSQL part of migration sets: SQL splitting, the ledger in schema dbops, the executor."""
