"""Work around PySide6 builds that return None / True / False without a reference on Python < 3.12.

PySide6 6.12 (shiboken6 6.12.0) wheels on CPython 3.11 drop one reference to
None on every call of a method that returns nothing (QPainter.save,
QTimer.setInterval, ...), and to True / False on every bool-returning call.
Python 3.12+ made these objects immortal, so the bug is harmless there; on
3.11 their reference counts (a few thousand at start-up) reach zero after a
few thousand calls and the interpreter aborts with "Fatal Python error:
none_dealloc" (or bool_dealloc). We detect the leak and give these singletons
reference counts so large that they cannot run out (2**40 calls), which is
what 3.12 does by design.
"""

from __future__ import annotations

import sys

_HEADROOM = 1 << 40


def none_refcount_leaks() -> bool:
    """True if calling void / bool PySide6 methods loses references to None or True."""
    from PySide6.QtCore import QPoint

    p = QPoint()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(64):
        p.setX(1)
        p.isNull()
    return sys.getrefcount(None) < before[0] - 32 or sys.getrefcount(True) < before[1] - 32


def make_none_immortal() -> bool:
    """Apply the workaround if needed; returns True if it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not none_refcount_leaks():
        return False
    import ctypes

    for obj in (None, True, False, Ellipsis, NotImplemented):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is PyObject's first field
        if refcnt.value < _HEADROOM:
            refcnt.value += _HEADROOM
    return True


APPLIED = make_none_immortal()
