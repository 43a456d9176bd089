"""Display decoding: EXIF orientation on the fast JPEG path, odd formats via core, prefetch errors."""

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageLoadError
from segstudio.core.imageio import image_size, load_image
from segstudio.gui.image_loader import Prefetcher, decode


def _exif_jpeg(path, orientation):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = (255, 0, 0)  # red band on the left of the stored pixels
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, quality=95, exif=exif)


def test_fast_jpeg_path_applies_exif_orientation_like_core(tmp_path):
    p = tmp_path / "rot.jpg"
    _exif_jpeg(p, 6)
    bgrx = decode(p)
    ref = load_image(p)
    assert bgrx.shape == (40, 20, 4) and image_size(p) == (20, 40)
    rgb = bgrx[..., 2::-1]
    assert np.abs(rgb.astype(int) - ref.astype(int)).max() <= 8
    assert (bgrx[..., 3] == 255).all()


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "I;16"])
def test_other_modes_go_through_core(tmp_path, mode):
    p = tmp_path / ("x.tif" if mode == "I;16" else "x.png" if mode in ("RGBA",) else "x.jpg")
    if mode == "I;16":
        Image.fromarray(np.full((6, 8), 40000, np.uint16)).save(p)
    else:
        Image.new(mode, (8, 6)).save(p)
    out = decode(p)
    assert out.shape == (6, 8, 4)
    assert np.array_equal(out[..., 2::-1], load_image(p))


def test_prefetcher_reports_broken_files(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff broken")
    pf = Prefetcher()
    pf.prefetch(bad)
    with pytest.raises(ImageLoadError, match="bad.jpg"):
        pf.get(bad)
    pf.shutdown()
