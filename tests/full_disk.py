"""A stand-in for a file on a full disk, shared by the core and studio fault tests."""

import errno


class FullDisk:
    """A file that takes half of what is written, then reports a full disk."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
