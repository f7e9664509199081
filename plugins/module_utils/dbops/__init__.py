"""The sevenp.dbops engine: plain Python, no Ansible imports; the modules are thin adapters over it."""
