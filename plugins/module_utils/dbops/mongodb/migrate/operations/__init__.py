"""Declarative operations of mongodb.yml, one module per family; each computes its inverse at apply time."""
