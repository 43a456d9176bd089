"""Reading the images people have, and reading / writing label PNGs.

`load_image` turns any common file into an RGB uint8 array in its displayed
(EXIF-oriented) frame: 16-bit and float data are scaled, not clipped; alpha is
dropped; CMYK, palette and grayscale images are converted. Failures raise
ImageLoadError naming the file. Pillow's decompression-bomb guard stays on,
with a limit the caller may raise.

Label PNGs are uint8 index maps: read from mode P or L, written in mode P with
the label set's palette, atomically.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_write_bytes
from .errors import ImageLoadError, ImageSizeMismatch
from .label_decode import label_pngs  # noqa: F401  (defined there so that eval lists files without NumPy)
from .labels import LabelSet

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .png .bmp .tif .tiff .webp .gif .ppm .pgm .pbm .jp2".split()
)

#: Default pixel limit (Pillow's own default): larger images are refused as
#: possible decompression bombs. Raise it with `max_pixels=` or SEGSTUDIO_MAX_PIXELS.
DEFAULT_MAX_PIXELS = int(os.environ.get("SEGSTUDIO_MAX_PIXELS", Image.MAX_IMAGE_PIXELS or 89_478_485))


def is_image_file(path: str | Path) -> bool:
    p = Path(path)
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    return sorted((p for p in folder.iterdir() if p.is_file() and is_image_file(p)), key=lambda p: p.name)


def _open(path: Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageLoadError(f"{path}: is a directory, not an image") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path}: not an image file (unknown or corrupt format)") from None
    except Image.DecompressionBombError as e:
        raise ImageLoadError(f"{path}: refused as a possible decompression bomb ({e})") from None
    except OSError as e:
        raise ImageLoadError(f"{path}: cannot read ({e})") from None
    w, h = img.size
    if w * h > max_pixels:
        img.close()
        raise ImageLoadError(
            f"{path}: {w}x{h} = {w * h / 1e6:.1f} Mpx exceeds the limit of {max_pixels / 1e6:.1f} Mpx "
            "(decompression-bomb guard); raise it with SEGSTUDIO_MAX_PIXELS if the file is trusted"
        )
    return img


def _load_pixels(img: Image.Image, path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e)
        if "truncated" in msg.lower() or "broken data stream" in msg.lower():
            raise ImageLoadError(f"{path}: image file is truncated or damaged ({msg})") from None
        raise ImageLoadError(f"{path}: cannot decode ({msg})") from None


def _scale_to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale integer or float data of any depth to 0..255 (never clip)."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        if info.max <= 65535 or (a.size and a.max() <= 65535 and a.min() >= 0):
            return ((a.astype(np.float32) * (255.0 / 65535.0)) + 0.5).astype(np.uint8)
        a = a.astype(np.float64)
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        return (a * 255.0 + 0.5).astype(np.uint8)
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return ((a - lo) * (255.0 / (hi - lo)) + 0.5).astype(np.uint8)


def _high_depth_rgb(path: Path) -> np.ndarray | None:
    """16-bit multi-channel files Pillow cannot represent: decode with OpenCV."""
    import cv2

    data = np.fromfile(str(path), np.uint8)
    a = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if a is None:
        return None
    if a.ndim == 3:
        a = a[..., :3][..., ::-1]  # BGR(A) -> RGB
    return a


def load_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Load `path` as an H x W x 3 RGB uint8 array in its EXIF-oriented frame."""
    path = Path(path)
    img = _open(path, max_pixels or DEFAULT_MAX_PIXELS)
    with img:
        _load_pixels(img, path)
        try:
            img = ImageOps.exif_transpose(img) or img
        except Exception:  # broken EXIF must not make a good image unreadable
            pass
        mode = img.mode
        if mode in ("RGB",):
            a = np.asarray(img)
        elif mode in ("L", "1"):
            a = np.asarray(img.convert("L"))
        elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
            a = _scale_to_uint8(np.asarray(img))
        elif mode in ("LA", "La"):
            a = np.asarray(img.convert("L"))
        elif mode == "P":
            a = np.asarray(img.convert("RGBA" if "transparency" in img.info else "RGB"))
        else:  # RGBA, RGBa, CMYK, YCbCr, LAB, HSV, RGBX ...
            try:
                a = np.asarray(img.convert("RGB"))
            except (ValueError, OSError):
                a = _high_depth_rgb(path)
                if a is None:
                    raise ImageLoadError(f"{path}: unsupported image mode {mode!r}") from None
                a = _scale_to_uint8(a)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    elif a.shape[2] == 2:
        a = np.repeat(a[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(a)


def _png_has_exif(path: Path) -> bool | None:
    """Whether a PNG has an eXIf chunk, by walking chunk headers (no decompression).

    Pillow's getexif() on a PNG decodes the whole image to look for an eXIf chunk
    after the pixel data. None if the file is not a well-formed PNG.
    """
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                return None
            return png_chunks_have_exif(f)
    except OSError:
        return None


def png_chunks_have_exif(f) -> bool | None:
    """Whether the PNG chunks from `f`'s position (a chunk start) to IEND include eXIf; None if they end early."""
    while True:
        head = f.read(8)
        if len(head) < 8:
            return None
        kind = head[4:8]
        if kind == b"eXIf":
            return True
        if kind == b"IEND":
            return False
        f.seek(int.from_bytes(head[:4], "big") + 4, 1)


def image_size(path: str | Path, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of an image in its EXIF-oriented frame, without decoding pixels."""
    path = Path(path)
    img = _open(path, max_pixels or DEFAULT_MAX_PIXELS)
    with img:
        w, h = img.size
        if img.format == "PNG" and _png_has_exif(path) is False:
            return w, h
        try:
            orientation = img.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


# --- label PNGs ----------------------------------------------------------------
def read_label_png(path: str | Path, expected_size: tuple[int, int] | None = None,
                   image_path: str | Path | None = None) -> np.ndarray:
    """Read a label PNG (mode P or L) as an H x W uint8 index map.

    `expected_size` is (width, height) of the image it annotates; a mismatch
    raises ImageSizeMismatch naming both files and sizes.
    """
    path = Path(path)
    img = _open(path, DEFAULT_MAX_PIXELS * 4)
    with img:
        _load_pixels(img, path)
        if img.mode in ("P", "L"):
            a = np.asarray(img)
        elif img.mode in ("I;16", "I;16L", "I;16B", "I", "1"):
            a = np.asarray(img)
            if a.size and (a.min() < 0 or a.max() > 255):
                raise ImageLoadError(f"{path}: label values {a.min()}..{a.max()} do not fit in 0..255")
            a = a.astype(np.uint8)
        else:
            raise ImageLoadError(
                f"{path}: a label PNG must be an index image (mode P or L), not mode {img.mode}; "
                "colour masks are imported with `segstudio import cvat`"
            )
    if expected_size is not None and (a.shape[1], a.shape[0]) != tuple(expected_size):
        what = f"image {image_path}" if image_path else "its image"
        raise ImageSizeMismatch(
            f"{path}: label map is {a.shape[1]}x{a.shape[0]} but {what} is "
            f"{expected_size[0]}x{expected_size[1]}"
        )
    return np.ascontiguousarray(a)


def encode_label_png(labels: np.ndarray, labelset: LabelSet, compress_level: int = 6) -> bytes:
    """PNG bytes of a uint8 index map in mode P with the label set's palette."""
    labels = np.ascontiguousarray(labels)
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise ValueError(f"label map must be a 2-D uint8 array, got {labels.dtype} {labels.shape}")
    img = Image.frombuffer("P", (labels.shape[1], labels.shape[0]), labels, "raw", "P", 0, 1)
    img.putpalette(labelset.palette())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def write_label_png(path: str | Path, labels: np.ndarray, labelset: LabelSet, compress_level: int = 6) -> None:
    """Write a label PNG atomically (temp file + rename)."""
    atomic_write_bytes(path, encode_label_png(labels, labelset, compress_level))
