"""Backup repositories (local directory or S3) with a checksum per object, and the catalog stored in them."""
