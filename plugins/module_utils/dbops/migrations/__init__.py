"""Migration sets: discovery, ordering, planning and the coordinator that applies them part by part."""
