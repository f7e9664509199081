"""The MongoDB side of migration.yml validate: rules: read-only checks paged by _id."""
