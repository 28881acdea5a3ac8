"""Security helpers shared by the agent, the API and the pages: secret masking."""

from conveyor.security.masking import MASK, MIN_SECRET_LENGTH, Masker

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Masker"]
