"""The MongoDB part of migration sets: mongodb.yml operations, mongodb.py code, ledger and lock."""
