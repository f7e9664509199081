"""Database-neutral migration sets: model, discovery and formats, dependency graph, planner, coordinator."""
