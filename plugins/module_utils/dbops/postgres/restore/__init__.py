"""PostgreSQL point-in-time restore: planning without touching, then carrying it out."""
