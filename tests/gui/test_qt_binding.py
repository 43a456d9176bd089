"""Guard against Qt bindings that corrupt the interpreter.

PySide6 6.12.0 on CPython 3.11 drops a reference to None on every call of a
method that returns nothing; after a few thousand calls Python aborts with
"none_dealloc". pyproject.toml excludes that release; this test fails loudly
if a broken binding is installed anyway.
"""

import sys

from PySide6.QtCore import QPoint


def test_void_and_bool_calls_keep_singleton_refcounts():
    p = QPoint()
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):
        p.setX(1)
        p.isNull()
        p.setY(0)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert all(abs(a - b) < 50 for a, b in zip(after, before)), (before, after)
