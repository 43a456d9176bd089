"""The state of an image's mask in a project: a plain enum, free of numpy and PIL, so that the studio's
widgets can use it before a folder (and core.project) loads."""

from __future__ import annotations

from enum import Enum


class ImageState(str, Enum):
    UNLABELLED = "unlabelled"  # no mask on disk
    PREDICTED = "predicted"    # mask came from a model and was not edited by hand
    EDITED = "edited"          # edited in memory, not yet saved
    SAVED = "saved"            # mask on disk, written or checked by a person
    REVIEWED = "reviewed"      # mask on disk, and a person marked it reviewed (the review queue's V key)
