"""MongoDB backups: mongodump-layout dumps, continuous change capture, recovery times."""
