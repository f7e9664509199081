"""PostgreSQL green from blue by logical replication: guardrails, schema copy, publication, subscription."""
