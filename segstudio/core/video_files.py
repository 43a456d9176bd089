"""Which files are videos, by name: importable without OpenCV (the studio's start-up uses it)."""

from __future__ import annotations

from pathlib import Path

VIDEO_EXTENSIONS = frozenset(".mp4 .avi .mov .mkv .m4v .webm .mpg .mpeg .wmv".split())


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
