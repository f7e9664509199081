"""PostgreSQL backups: base backups with their manifest check, logical dumps, recovery points."""
