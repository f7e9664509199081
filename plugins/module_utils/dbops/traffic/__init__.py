"""Where clients are sent: PgBouncer's admin console and ini file, HAProxy's runtime API."""
