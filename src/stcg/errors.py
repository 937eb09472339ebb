"""Errors the project raises for bad input or state: one line, naming what is wrong and how to fix it."""


class StcgError(ValueError):
    """A user-facing error: its message is the whole story (no traceback needed)."""
