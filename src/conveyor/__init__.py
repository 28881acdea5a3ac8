"""Conveyor: jobs of reusable steps, run by agents that pull work from a database."""

__version__ = "0.1.0"
