"""Exception types shared by the core library.

Every error a user can cause (a bad file, an invalid label set) derives from
SegstudioError and carries a message that names the file and the problem, so
the CLI can print it and the GUI can show it without a traceback.
"""


class SegstudioError(Exception):
    """Base class of errors caused by user input rather than by bugs."""


class LabelSetError(SegstudioError, ValueError):
    """A label set is invalid or a label-set file cannot be read."""


class ImageLoadError(SegstudioError, OSError):
    """An image or label file cannot be read."""


class ImageSizeMismatch(SegstudioError, ValueError):
    """A label map does not have the size of its image."""


class VideoError(SegstudioError, OSError):
    """A video cannot be read (missing, unsupported, broken or truncated), or its frames cannot be written."""
