"""The annotation project of a folder: its images, their masks, the label set, per-image state.

Images are the image files directly inside a folder. Their label maps live as
palette PNGs named `<stem>.png` in `SegmentationClass/` beside the images (VOC
layout) or in a folder the user picks. A small JSON file in the image folder
(`segstudio-project.json`) remembers the label set, the masks folder and each
image's state (unlabelled / predicted / edited / saved), so reopening the
folder restores all of it. Existing masks are picked up for correction.

Faults are survived, never turned into lost work:
- a damaged project file is kept as `segstudio-project.json.corrupt-<time>`
  and the project rebuilt from the masks on disk (`Project.notice` says so);
- a masks folder where a mask would be written over an image (the image
  folder itself, with PNG images) is refused;
- a mask changed on disk by another program since it was loaded is not
  overwritten: `save_mask` raises MaskChangedOnDisk unless told to (`force`),
  and `save_mask_copy` writes the user's version beside it instead;
- masks are written atomically, so a full disk or a read-only folder leaves
  the previous file whole (see core/autosave.py for retrying);
- `Project.open(..., lock=True)` (the studio) takes the folder's lock
  (core/folder_lock.py): when another live studio holds it, the project is
  `read_only` (`read_only_reason` names the holder) and writes nothing.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .errors import SegstudioError
from .folder_lock import FolderLock
from .imageio import is_image_file, list_images, read_label_png, write_label_png
from .labels import LabelSet, resolve_labelset
from .safe_json import load_json_file
from .states import ImageState

PROJECT_FILE = "segstudio-project.json"
FORMAT_NAME = "segstudio.project"
MASKS_SUBDIR = "SegmentationClass"


class ProjectError(SegstudioError):
    """A folder cannot be opened as a project, or its project file is bad."""


class MaskChangedOnDisk(SegstudioError):
    """The mask file changed on disk (another program) since it was loaded; not overwritten."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(f"{path}: the mask was changed on disk by another program since it was loaded; "
                         "reload it, keep your version (overwrite), or save your version as a copy")


def disk_signature(path: Path) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode) of a file, None if it does not exist: enough to notice another writer."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class Project:
    """Folder model; all paths are absolute. Not thread-safe (GUI thread only)."""

    def __init__(self, images_dir: Path, masks_dir: Path, labelset: LabelSet, label_spec: str = "",
                 states: dict[str, str] | None = None, start_image: Path | None = None):
        self.images_dir = Path(images_dir).resolve()
        self.masks_dir = Path(masks_dir).resolve()
        self.labelset = labelset
        self.label_spec = label_spec or labelset.name
        self._states: dict[str, ImageState] = {}
        for name, s in (states or {}).items():
            try:
                self._states[name] = ImageState(s)
            except ValueError:
                pass
        self.images: list[Path] = []
        self.start_image = start_image
        self.last_save_error: str | None = None
        self.notice: str | None = None  # something the studio should tell the user once (a recovery)
        self.lock: FolderLock | None = None
        self.read_only_reason: str | None = None  # set when another studio holds the folder
        self._disk: dict[str, tuple[int, int, int] | None] = {}  # mask signature when loaded or saved
        self.rescan()
        self._refuse_masks_over_images()

    # --- opening -------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, labels: str | LabelSet | None = None, masks: str | Path | None = None,
             default_labels: str = "voc", lock: bool = False) -> Project:
        """Open a folder (or the folder of an image file) as a project.

        `labels` / `masks` override what the project file remembers; without
        either, the project file's choice is used, else `default_labels` and
        `SegmentationClass/` beside the images.
        """
        path = Path(path).expanduser()
        if not path.exists():
            raise ProjectError(f"{path}: no such file or folder")
        start = None
        if path.is_file():
            if not is_image_file(path):
                raise ProjectError(f"{path}: not an image file")
            start = path.resolve()
            path = path.parent
        images_dir = path.resolve()
        saved, notice = _read_or_recover(images_dir)
        if labels is not None:
            labelset = resolve_labelset(labels)
            spec = labels.name if isinstance(labels, LabelSet) else str(labels)
        elif saved.get("labelset") is not None:
            labelset = LabelSet.from_dict(saved["labelset"], source=str(images_dir / PROJECT_FILE))
            spec = saved.get("label_spec", labelset.name)
        else:
            labelset = resolve_labelset(default_labels)
            spec = default_labels
        if masks is not None:
            masks_dir = Path(masks).expanduser()
            if not masks_dir.is_absolute():
                masks_dir = Path.cwd() / masks_dir
        elif saved.get("masks_dir"):
            masks_dir = images_dir / saved["masks_dir"]
        else:
            masks_dir = images_dir / MASKS_SUBDIR
        project = cls(images_dir, masks_dir, labelset, spec, saved.get("states"), start)
        project.notice = notice
        if lock:
            project.take_lock()
        if labels is not None or masks is not None or not saved:
            project.save_quietly()
        return project

    # --- one writer at a time ------------------------------------------
    def take_lock(self) -> bool:
        """Take the folder's lock; if another studio holds it the project becomes read-only."""
        self.lock = FolderLock(self.images_dir)
        owned = self.lock.acquire()
        if owned or (self.lock.holder is None and not self.lock.problem):  # a read-only folder: nothing to guard
            self.read_only_reason = None
            return True
        self.read_only_reason = self.lock.problem or (
            f"{self.images_dir} is open in another segstudio ({self.lock.holder.describe()}); opened read-only: "
            f"nothing is saved here until that studio closes the folder (if it is gone, e.g. its computer "
            f"crashed, delete {self.lock.path} and open the folder again)")
        return False

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def _refuse_masks_over_images(self) -> None:
        """Refuse a masks folder where a mask would be written over an image (PNG images in it)."""
        if self.masks_dir != self.images_dir:
            return
        clash = [p.name for p in self.images if p.suffix.lower() == ".png"]
        if clash:
            raise ProjectError(f"masks folder {self.masks_dir} is the image folder and its masks would be written "
                               f"over the images ({', '.join(clash[:3])}{' ...' if len(clash) > 3 else ''}); "
                               "choose another masks folder")

    def rescan(self) -> None:
        """Re-list the image files of the folder."""
        try:
            self.images = list_images(self.images_dir)
        except OSError as e:
            raise ProjectError(f"{self.images_dir}: cannot list the folder ({e})") from None

    # --- masks ---------------------------------------------------------
    def mask_path(self, image: str | Path) -> Path:
        return self.masks_dir / (Path(image).stem + ".png")

    def has_mask(self, image: str | Path) -> bool:
        return self.mask_path(image).is_file()

    def load_mask(self, image: str | Path, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The saved label map of `image`, or None if it has none.

        Raises ImageLoadError / ImageSizeMismatch (naming the files) for a bad mask.
        """
        p = self.mask_path(image)
        self.remember_disk_state(image)
        if not p.is_file():
            return None
        return read_label_png(p, expected_size=size, image_path=image)

    def remember_disk_state(self, image: str | Path) -> None:
        """Note the mask file as it is now (call when its content is read), to notice later writers."""
        self._disk[Path(image).name] = disk_signature(self.mask_path(image))

    def changed_on_disk(self, image: str | Path) -> bool:
        """True if the mask file changed since it was loaded or saved here (False if never seen)."""
        name = Path(image).name
        return name in self._disk and disk_signature(self.mask_path(image)) != self._disk[name]

    def save_mask(self, image: str | Path, labels: np.ndarray, state: ImageState = ImageState.SAVED,
                  compress_level: int = 6, force: bool = False) -> Path:
        """Write the label map atomically and record the image's state.

        Raises MaskChangedOnDisk (writing nothing) if another program changed the
        file since it was loaded, unless `force`; OSError if the disk refuses.
        """
        p = self.mask_path(image)
        if self.read_only:
            raise ProjectError(self.read_only_reason)
        if not force and self.changed_on_disk(image):
            raise MaskChangedOnDisk(p)
        write_label_png(p, labels, self.labelset, compress_level)
        self.remember_disk_state(image)
        self._states[Path(image).name] = state
        self.save_quietly()
        return p

    def save_mask_copy(self, image: str | Path, labels: np.ndarray) -> Path:
        """Write the label map as `<stem>.mine-<n>.png` beside the mask, leaving the mask as it is."""
        stem = Path(image).stem
        n = 1
        while (self.masks_dir / f"{stem}.mine-{n}.png").exists():
            n += 1
        p = self.masks_dir / f"{stem}.mine-{n}.png"
        write_label_png(p, labels, self.labelset)
        return p

    def vanished_images(self) -> list[Path]:
        """Images of the list that are no longer on disk (deleted or renamed by another program)."""
        return [p for p in self.images if not p.is_file()]

    def empty_labels(self, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        return np.full((h, w), self.labelset.ignore_index, np.uint8)

    # --- state ---------------------------------------------------------
    def state(self, image: str | Path) -> ImageState:
        name = Path(image).name
        s = self._states.get(name)
        if s is ImageState.EDITED:
            return s
        if not self.has_mask(image):
            return ImageState.UNLABELLED
        return s if s in (ImageState.PREDICTED, ImageState.SAVED, ImageState.REVIEWED) else ImageState.SAVED

    def state_counts(self) -> dict[ImageState, int]:
        """How many images are in each state (every state listed, zeros included)."""
        counts = {s: 0 for s in ImageState}
        for p in self.images:
            counts[self.state(p)] += 1
        return counts

    def set_state(self, image: str | Path, state: ImageState, persist: bool = True) -> None:
        self._states[Path(image).name] = state
        if persist:
            self.save_quietly()

    def unlabelled_images(self) -> list[Path]:
        return [p for p in self.images if not self.has_mask(p)]

    # --- project file ---------------------------------------------------
    @property
    def project_file(self) -> Path:
        return self.images_dir / PROJECT_FILE

    def to_dict(self) -> dict:
        try:
            masks = os.path.relpath(self.masks_dir, self.images_dir)
        except ValueError:  # another drive on Windows
            masks = str(self.masks_dir)
        persistent = {n: s.value for n, s in sorted(self._states.items())
                      if s in (ImageState.PREDICTED, ImageState.SAVED, ImageState.REVIEWED)}
        return {"format": FORMAT_NAME, "version": 1, "label_spec": self.label_spec,
                "labelset": self.labelset.to_dict(), "masks_dir": masks.replace(os.sep, "/"),
                "states": persistent}

    def save(self) -> None:
        if self.read_only:
            return
        atomic_write_text(self.project_file, json.dumps(self.to_dict(), indent=1) + "\n")

    def save_quietly(self) -> bool:
        """Save the project file; a read-only folder is not an error (reported in last_save_error)."""
        try:
            self.save()
        except OSError as e:
            self.last_save_error = f"{self.project_file}: cannot write ({e.strerror or e})"
            return False
        self.last_save_error = None
        return True


def read_project_file(images_dir: Path) -> dict:
    """The project file's content ({} if none); a damaged file raises ProjectError."""
    p = Path(images_dir) / PROJECT_FILE
    if not p.is_file():
        return {}
    try:
        data = load_json_file(p, max_bytes=256 << 20)
    except SegstudioError as e:
        raise ProjectError(f"cannot read the project file: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ProjectError(f"{p}: not a segstudio project file")
    try:  # the parts the project uses must have the right types
        if data.get("labelset") is not None:
            LabelSet.from_dict(data["labelset"], source=str(p))
        if not isinstance(data.get("states", {}), dict) or not isinstance(data.get("masks_dir", ""), str):
            raise ValueError("states or masks_dir has the wrong type")
    except (SegstudioError, ValueError, TypeError) as e:
        raise ProjectError(f"{p}: damaged project file ({e})") from None
    return data


def _read_or_recover(images_dir: Path) -> tuple[dict, str | None]:
    """The project file's content, or ({}, notice) after moving a damaged file aside as a backup."""
    try:
        return read_project_file(images_dir), None
    except ProjectError as e:
        p = Path(images_dir) / PROJECT_FILE
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = p.with_name(f"{PROJECT_FILE}.corrupt-{stamp}")
        try:
            os.replace(p, backup)
        except OSError as move_error:  # a read-only folder: leave it, still open the images
            return {}, (f"{e}. It could not be moved aside ({move_error.strerror}); the project was rebuilt "
                        "from the masks on disk for this session")
        return {}, (f"{e}. It was kept as {backup.name} and the project rebuilt from the masks on disk "
                    "(label set and masks folder back to their defaults)")
