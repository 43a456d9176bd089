"""Review states of an image folder read without opening it as a project (CLI and export summaries).

A project remembers per image whether its mask was predicted, saved or marked
reviewed (core.project.ImageState). `state_counts(images, masks)` counts them
for a folder from the project file (read only, never repaired here) and the
masks present: an image without a mask is unlabelled, one whose project state
is unknown counts as saved.
"""

from __future__ import annotations

from pathlib import Path

from .imageio import list_images
from .project import ImageState, ProjectError, read_project_file

_KEPT = {ImageState.PREDICTED.value, ImageState.SAVED.value, ImageState.REVIEWED.value}


def state_counts(images_dir: str | Path, masks_dir: str | Path) -> dict[ImageState, int]:
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    try:
        saved = read_project_file(images_dir)
    except ProjectError:
        saved = {}
    states = saved.get("states")
    states = states if isinstance(states, dict) else {}
    counts = {s: 0 for s in ImageState if s is not ImageState.EDITED}
    for p in list_images(images_dir):
        if not (masks_dir / f"{p.stem}.png").is_file():
            counts[ImageState.UNLABELLED] += 1
            continue
        s = states.get(p.name)
        counts[ImageState(s) if isinstance(s, str) and s in _KEPT else ImageState.SAVED] += 1
    return counts


def summary_line(counts: dict[ImageState, int]) -> str:
    return "review states: " + ", ".join(f"{n} {s.value}" for s, n in counts.items())
