"""Helpers shared by test layers (on sys.path through pytest's `pythonpath`)."""
