"""One package per existing system: its client, its mappings and its stand-in."""
