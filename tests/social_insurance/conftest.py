"""The social insurance stand-in as a real process, shared per xdist worker: the
``social_insurance_standin`` fixture of ``tests/conftest.py`` (seeded; each test
gets it with its faults cleared and the quota off)."""
