"""The blue-green cutover: durable state on both sides, the fenced switch and fallback, undo, crash recovery."""
