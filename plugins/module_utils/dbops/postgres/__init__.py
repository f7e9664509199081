"""PostgreSQL side of the engine: one connection, the server on its host, WAL, migrations, backup and restore."""
