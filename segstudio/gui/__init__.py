"""PySide6 desktop studio: main window, canvas, tools, undo, background workers, dialogs.

Sits on top of segstudio.core (data model, edits, formats) and segstudio.nets
(models, prediction, training); widgets never do the work themselves.
"""
