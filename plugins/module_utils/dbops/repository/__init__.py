"""Backup repositories (a local directory or an S3 prefix), their catalog and their retention."""
