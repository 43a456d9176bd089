"""Qt-free, torch-free core of segstudio: label sets, image I/O, metrics, formats.

Nothing in this package may import PySide6 or torch (a test enforces it), so
that the data model can be used from scripts, the CLI and worker processes.
"""
