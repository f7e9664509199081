"""MongoDB backups and point-in-time recovery: mongodump-layout dumps, continuous change capture, restore + replay.

Entry points (documented in docs/mongodb-backup.md): dump.take_dump / dump.plan_dump, capture.ChangeCapture (or the
capture_daemon process), capture.flush_until / capture.capture_status, recovery_time.take_recovery_time /
recovery_time.current_cluster_time, restore.plan_restore / restore.restore, topology.detect_topology,
content_hash.database_digests.
"""
