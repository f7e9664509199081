"""A PostgreSQL server on its host: its binaries, the OS user that owns the cluster, pg_ctl."""
