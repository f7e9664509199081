"""PostgreSQL backups and point-in-time recovery: base backups, logical dumps, recovery points, WAL chain, PITR."""
