"""Agents: claim ready steps, run them, ship their logs, heartbeat, and report how they ended."""
