"""Peer workloads, run by the peers' own virtualenv python in a subprocess (never imported by
the harness, whose venv has none of the peers installed)."""
