"""MongoDB backups and point-in-time recovery: mongodump-layout dumps, continuous change capture, restore + replay.

Entry points (see docs/mongodb-backup.md): dump.take_dump, capture.ChangeCapture / capture.flush_until,
recovery_time.take_recovery_time, restore.restore / restore.plan_restore, content_hash.database_hashes,
topology.detect_topology.
"""
