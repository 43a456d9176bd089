"""Errors raised by the networks package for problems the user can fix.

They derive from `SegstudioError`, so the CLI prints them as one line and the
GUI shows them in a message box; each message names the file or the setting
and says what does not match.
"""

from segstudio.core.errors import SegstudioError


class ModelError(SegstudioError, ValueError):
    """A model cannot be built or a checkpoint does not fit its model card."""


class ModelNotFound(ModelError, LookupError):
    """No model of that name or path exists."""


class UnsafeCheckpointError(ModelError):
    """A checkpoint would need to run code to load (a pickle with globals); it was refused."""
