"""MongoDB restore to a point: a dump, its oplog window, then the change archive."""
