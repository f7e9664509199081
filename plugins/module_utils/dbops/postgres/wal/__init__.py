"""PostgreSQL WAL: positions and segment names, the archiver, the archive's chain and its set-up."""
