"""Keeping the engine's long-lived processes running where no systemd does: a pid-file supervisor."""
