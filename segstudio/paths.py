"""Where segstudio finds its bundled data, shipped models and the user's models: the one place that knows.

The shipped models and the CamVid samples are package data (`segstudio/data/`),
so an editable install, a wheel and a source checkout find them the same way.
Environment overrides: SEGSTUDIO_RESOURCES (a folder holding `samples/`),
SEGSTUDIO_SHIPPED_MODELS, SEGSTUDIO_HOME (the user's data folder).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
#: The source checkout (recipes/, benchmarks/); meaningless in an installed wheel.
REPO_DIR = PACKAGE_DIR.parent


def resources_dir() -> Path:
    """The folder holding the bundled `samples/`."""
    return Path(os.environ.get("SEGSTUDIO_RESOURCES", DATA_DIR))


def samples_dir() -> Path:
    return resources_dir() / "samples"


def shipped_models_dir() -> Path:
    return Path(os.environ.get("SEGSTUDIO_SHIPPED_MODELS", DATA_DIR / "models"))


def user_data_dir() -> Path:
    """SEGSTUDIO_HOME, else $XDG_DATA_HOME/segstudio, else ~/.local/share/segstudio."""
    if os.environ.get("SEGSTUDIO_HOME"):
        return Path(os.environ["SEGSTUDIO_HOME"])
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "segstudio"


def user_models_dir() -> Path:
    return user_data_dir() / "models"
