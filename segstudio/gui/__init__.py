"""PySide6 desktop studio: main window, canvas, tools, undo, background workers, dialogs.

Sits on top of segstudio.core (data model, edits, formats) and segstudio.nets
(models, prediction, training); widgets never do the work themselves.
Importing the package applies `pyside_compat` (a PySide6 / Python 3.11
reference-count workaround) before any widget is made.
"""

from . import pyside_compat  # noqa: F401
