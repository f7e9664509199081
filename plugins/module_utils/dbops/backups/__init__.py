"""Entry points of the backup, recovery_point, restore and wal_archiving modules, over both engines."""
