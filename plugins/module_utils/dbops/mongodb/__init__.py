"""MongoDB side of the engine: one connection, one topology, the oplog, migrations, backup and restore."""
