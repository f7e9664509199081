"""The MongoDB change capture as a supervised service (systemd unit or pid-file supervisor), installed per database."""
