"""The PostgreSQL side of migration.yml validate: rules: read-only, keyset-paged checks."""
