"""Taking over a database that another migration tool manages: reading its history, never changing it."""
