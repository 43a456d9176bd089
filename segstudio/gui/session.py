"""The opened folder as the window works on it: its documents, the image prefetcher, unreadable files.

`Session` loads an image's document and display pixels (mask read ahead by
the prefetcher when it can be), prefetches the neighbours of the image shown,
and remembers which images could not be read and which masks could not be
saved. It reports problems through `report(path, message, state)` (state None:
the image itself is unreadable) and has no widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from segstudio.core.document import Document
from segstudio.core.document_set import DocumentSet
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import image_size
from segstudio.core.project import ImageState, Project

from .image_loader import Prefetcher

ReportFn = Callable[[Path, str, ImageState | None], None]


class Session:
    def __init__(self, project: Project, prefetcher: Prefetcher, report: ReportFn,
                 on_open: Callable[[Document], None]):
        self.project = project
        self.prefetcher = prefetcher
        self.report = report
        self.docs = DocumentSet(project, on_open=on_open)
        self.unreadable: set[Path] = set()
        self.save_failures: dict[Path, str] = {}
        self.save_listeners: list[Callable[[Path, Exception | None], None]] = []  # after each save attempt

    def load(self, path: Path) -> tuple[Document, np.ndarray] | None:
        """(document with its mask loaded, display pixels), or None (reported) if the image is unreadable."""
        try:
            size = image_size(path)
        except SegstudioError as e:
            return self._unreadable(path, str(e))
        doc = self.docs.open(path)
        was_loaded, mask_error = doc.loaded, None
        if not was_loaded:
            mask_error = self._try_load(doc, size, self.prefetcher.take_mask(self.project.mask_path(path)))
        try:
            pixels = self.prefetcher.get(path)
        except SegstudioError as e:
            if not was_loaded:
                doc.unload()
            return self._unreadable(path, str(e))
        if (pixels.shape[1], pixels.shape[0]) != size and mask_error is None and not was_loaded:
            size = (pixels.shape[1], pixels.shape[0])  # the header and the decoder disagree: trust the pixels
            mask_error = self._try_load(doc, size)
        doc.read_only = mask_error is not None or self.project.read_only  # another studio holds the folder
        if mask_error is not None:
            self.report(path, f"mask not loaded: {mask_error}", self.project.state(path))
            doc.set_labels(self.project.empty_labels(size))
        return doc, pixels

    def _unreadable(self, path: Path, message: str) -> None:
        self.prefetcher.forget(path)
        self.unreadable.add(path)
        self.report(path, message, None)
        return None

    def _try_load(self, doc: Document, size, preloaded=None) -> SegstudioError | None:
        self.project.remember_disk_state(doc.path)  # to notice another program writing the mask later
        try:
            self.docs.load(doc, size, preloaded)
        except SegstudioError as e:
            return e
        return None

    def prefetch_neighbours(self, path: Path) -> None:
        imgs = self.project.images
        i = imgs.index(path)
        near = [imgs[j] for j in (i + 1, i - 1) if 0 <= j < len(imgs)]
        for p in near:
            self.prefetcher.prefetch(p)
        for p in near:
            doc, mask = self.docs.get(p), self.project.mask_path(p)
            if (doc is None or not doc.loaded) and mask.is_file():
                self.prefetcher.prefetch_mask(mask)

    def save(self, doc: Document) -> Path | None:
        """Save `doc` if it needs it; the mask path written, or None. Raises OSError / SegstudioError.

        A failure is remembered (`save_failures`) until a later save succeeds.
        """
        if not doc.dirty or not doc.loaded or doc.read_only:
            return None
        try:
            path = self.docs.save(doc)
        except (OSError, SegstudioError) as e:
            self.save_failures[doc.path] = (f"{self.project.mask_path(doc.path)}: cannot save "
                                            f"({getattr(e, 'strerror', None) or e})")
            for listener in self.save_listeners:
                listener(doc.path, e)
            raise
        self.save_failures.pop(doc.path, None)
        for listener in self.save_listeners:
            listener(doc.path, None)
        return path

    def to_predict(self) -> list[Path]:
        """Images with no mask yet that can be read and have no unsaved edits."""
        return [p for p in self.project.unlabelled_images()
                if p not in self.unreadable and not (self.docs.get(p) and self.docs.get(p).dirty)]

    def state(self, path: Path) -> ImageState:
        return self.docs.state(path)
