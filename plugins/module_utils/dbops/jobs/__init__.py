"""What each module asks for: one request record in, one result record out (backup, recovery point, restore)."""
