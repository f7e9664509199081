"""WAL archiving to S3: segments per second, how far behind under pgbench, restore_command per segment."""
