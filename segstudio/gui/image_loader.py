"""Fast image decoding for display, with a background prefetch of neighbouring images.

Plain 8-bit RGB JPEGs are decoded with OpenCV (about twice as fast as Pillow
on large photographs; OpenCV applies the EXIF orientation itself); everything
else goes through `core.imageio.load_image`, which handles the odd formats.
Pixels come back as H x W x 4 uint8 B, G, R, 255 -- the byte order of
QImage.Format_RGB32, which the canvas wraps without copying and Qt draws
without converting. The conversion happens here, on the prefetch thread, so
switching to a prefetched 6000 x 4000 image costs almost nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from segstudio.core.errors import ImageLoadError

if TYPE_CHECKING:  # numpy, PIL and OpenCV load with the first image, not at startup
    import numpy as np


def decode(path: str | Path) -> np.ndarray:
    """H x W x 4 BGRX pixels of an image file; raises ImageLoadError."""
    import cv2

    a, order = decode_raw(path)
    return cv2.cvtColor(a, cv2.COLOR_BGR2BGRA if order == "BGR" else cv2.COLOR_RGB2BGRA)


def decode_raw(path: str | Path) -> tuple[np.ndarray, str]:
    """(H x W x 3 pixels, "RGB" | "BGR") of an image file; raises ImageLoadError."""
    import numpy as np
    from PIL import Image

    from segstudio.core.imageio import DEFAULT_MAX_PIXELS, load_image

    path = Path(path)
    try:
        with Image.open(path) as im:
            fast = im.format == "JPEG" and im.mode == "RGB" and im.size[0] * im.size[1] <= DEFAULT_MAX_PIXELS
    except Exception:
        fast = False
    if fast:
        import cv2

        try:
            data = np.fromfile(str(path), np.uint8)
            a = cv2.imdecode(data, cv2.IMREAD_COLOR)
        except (OSError, cv2.error):
            a = None
        if a is not None and a.ndim == 3 and a.shape[2] == 3:
            return a, "BGR"
    return load_image(path), "RGB"


def _signature(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_mask(path: Path):
    import numpy as np

    from segstudio.core.imageio import read_label_png

    sig = _signature(path)
    return sig, np.array(read_label_png(path))  # writable copy, made off the GUI thread


class Prefetcher:
    """Decodes images on background threads and keeps a few results.

    Neighbours are prefetched on one thread; an image the user asked for
    (`urgent`) gets its own thread so it never queues behind a prefetch.
    """

    def __init__(self, keep: int = 3):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segstudio-prefetch")
        self._urgent = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segstudio-open")
        self._futures: dict[Path, Future] = {}
        self._order: list[Path] = []
        self._masks: dict[Path, Future] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def prefetch(self, path: Path, urgent: bool = False) -> None:
        with self._lock:
            if path in self._futures:
                return
            self._futures[path] = (self._urgent if urgent else self._pool).submit(decode, path)
            self._order.append(path)
            while len(self._order) > self._keep:
                old = self._order.pop(0)
                self._futures.pop(old, None)

    def get(self, path: Path) -> np.ndarray:
        """Decoded pixels of `path`, from the prefetch if there is one; raises ImageLoadError."""
        with self._lock:
            fut = self._futures.pop(path, None)
            if fut is not None:
                self._order.remove(path)
        if fut is not None:
            try:
                return fut.result()
            except ImageLoadError:
                raise
            except Exception as e:  # pragma: no cover - decoding bugs surface as load errors
                raise ImageLoadError(f"{path}: cannot read ({e})") from None
        return decode(path)

    def prefetch_mask(self, mask_path: Path) -> None:
        """Read a label PNG in the background (after the queued images)."""
        with self._lock:
            if mask_path not in self._masks:
                self._masks[mask_path] = self._pool.submit(_read_mask, mask_path)
                while len(self._masks) > self._keep:
                    self._masks.pop(next(iter(self._masks)))

    def take_mask(self, mask_path: Path) -> np.ndarray | None:
        """The prefetched label map of `mask_path` if the file is unchanged since it was read, else None."""
        with self._lock:
            fut = self._masks.pop(mask_path, None)
        if fut is None:
            return None
        try:
            sig, labels = fut.result()
        except Exception:  # noqa: BLE001 - the caller reads the file itself and reports the error
            return None
        return labels if sig == _signature(mask_path) else None

    def forget(self, path: Path) -> None:
        with self._lock:
            if self._futures.pop(path, None) is not None:
                self._order.remove(path)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._urgent.shutdown(wait=False, cancel_futures=True)
