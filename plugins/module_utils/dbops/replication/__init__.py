"""How far a replica is behind its source: lag readers and the wait until it has caught up."""
