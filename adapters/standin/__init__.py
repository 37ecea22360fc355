"""What the three stand-ins share: the /__sim/ surface, their store, seed data, the runner."""
