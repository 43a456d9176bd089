"""Where segstudio finds its bundled resources, shipped models and user models."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def resources_dir() -> Path:
    return Path(os.environ.get("SEGSTUDIO_RESOURCES", REPO_DIR / "resources"))


def samples_dir() -> Path:
    return resources_dir() / "samples"


def shipped_models_dir() -> Path:
    return Path(os.environ.get("SEGSTUDIO_SHIPPED_MODELS", REPO_DIR / "models"))


def user_data_dir() -> Path:
    """SEGSTUDIO_HOME, else $XDG_DATA_HOME/segstudio, else ~/.local/share/segstudio."""
    if os.environ.get("SEGSTUDIO_HOME"):
        return Path(os.environ["SEGSTUDIO_HOME"])
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "segstudio"


def user_models_dir() -> Path:
    return user_data_dir() / "models"
