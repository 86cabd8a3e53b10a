"""The exceptions our services raise; the Slack edge maps each to a friendly answer."""

from __future__ import annotations


class BrickworkError(Exception):
    """Something the person can act on; ``str(error)`` is shown to them as it is."""


class NotAllowed(BrickworkError):
    """The person may not do or see this."""


class NotFound(BrickworkError):
    """What the person asked for does not exist (or they may not know it exists)."""


class InvalidInput(BrickworkError):
    """One or more fields of a form are wrong; ``fields`` maps a field name to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields
