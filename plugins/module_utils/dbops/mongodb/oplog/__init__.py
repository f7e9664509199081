"""MongoDB oplog entries: which belong to a database, their times, and replaying them."""
