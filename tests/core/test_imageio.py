"""Image I/O on the odd files people have, label PNGs, and atomic writes."""

import os

import cv2
import numpy as np
import pytest
from PIL import Image

from segstudio.core import atomic
from segstudio.core.errors import ImageLoadError, ImageSizeMismatch
from segstudio.core.imageio import (
    image_size, list_images, load_image, read_label_png, write_label_png,
)
from segstudio.core.labels import preset


def _pattern(h=20, w=40):
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)  # left half red
    a[:, w // 2:] = (0, 0, 255)  # right half blue
    a[0, 0] = (0, 255, 0)  # top-left marker
    return a


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    img = Image.fromarray(_pattern())
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    img.save(path, quality=95, exif=exif)
    a = load_image(path)
    assert a.shape == (40, 20, 3)
    # Rotating clockwise puts the stored left half (red) on top.
    assert a[5, 10, 0] > 200 and a[5, 10, 2] < 60
    assert a[35, 10, 2] > 200 and a[35, 10, 0] < 60
    assert image_size(path) == (20, 40)


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    data = np.array([[0, 257 * 64, 32768, 65535]], np.uint16)
    cv2.imwrite(str(path), data)
    a = load_image(path)
    assert a.shape == (1, 4, 3)
    assert a[0, :, 0].tolist() == [0, 64, 128, 255]
    assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()


def test_16bit_rgb_png(tmp_path):
    path = tmp_path / "deep_rgb.png"
    data = np.zeros((2, 3, 3), np.uint16)
    data[..., 2] = 65535  # OpenCV writes BGR: channel 2 is red
    data[0, 0] = (0, 32768, 0)
    cv2.imwrite(str(path), data)
    a = load_image(path)
    assert a.dtype == np.uint8 and a.shape == (2, 3, 3)
    assert tuple(a[1, 1]) == (255, 0, 0)
    assert abs(int(a[0, 0, 1]) - 128) <= 1


def test_float_tiff_in_unit_range_and_outside(tmp_path):
    unit = tmp_path / "unit.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), mode="F").save(unit)
    assert load_image(unit)[0, :, 0].tolist() == [0, 128, 255]
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-10.0, 0.0, 10.0]], np.float32), mode="F").save(wide)
    assert load_image(wide)[0, :, 0].tolist() == [0, 128, 255]


def test_grayscale_rgba_palette_cmyk(tmp_path):
    Image.fromarray(np.full((4, 5), 77, np.uint8), mode="L").save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").shape == (4, 5, 3)
    assert (load_image(tmp_path / "g.png") == 77).all()

    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[..., 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    got = load_image(tmp_path / "a.png")
    assert got.shape == (4, 5, 3) and (got[..., 1] == 200).all()

    pal = Image.new("P", (5, 4))
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.putpixel((2, 1), 1)
    pal.save(tmp_path / "p.png")
    got = load_image(tmp_path / "p.png")
    assert tuple(got[1, 2]) == (10, 20, 30) and tuple(got[0, 0]) == (0, 0, 0)

    Image.new("RGB", (8, 8), (255, 0, 0)).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    got = load_image(tmp_path / "c.jpg")
    assert got.shape == (8, 8, 3)
    assert got[4, 4, 0] > 230 and got[4, 4, 1] < 30 and got[4, 4, 2] < 30


def test_truncated_and_non_image_files_name_the_file(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(good)
    data = good.read_bytes()
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.jpg.*truncated"):
        load_image(bad)
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ImageLoadError, match=r"notes\.png: not an image"):
        load_image(text)
    with pytest.raises(ImageLoadError, match=r"absent\.png: no such file"):
        load_image(tmp_path / "absent.png")


def test_decompression_bomb_guard(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(path)
    with pytest.raises(ImageLoadError, match=r"big\.png: 300x200.*exceeds the limit"):
        load_image(path, max_pixels=50_000)
    assert load_image(path, max_pixels=60_000).shape == (200, 300, 3)
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard stays on


def test_list_images_skips_other_files(tmp_path):
    for name in ["b.jpg", "a.PNG", "notes.txt", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.PNG", "b.jpg"]


def test_label_png_round_trip_mode_p_and_palette(tmp_path):
    ls = preset("voc")
    labels = np.random.default_rng(1).integers(0, 21, (37, 53)).astype(np.uint8)
    labels[0, :5] = 255
    path = tmp_path / "m.png"
    write_label_png(path, labels, ls)
    with Image.open(path) as im:
        assert im.mode == "P"
        assert bytes(im.getpalette()[:768]) == ls.palette()
    back = read_label_png(path, expected_size=(53, 37))
    assert back.dtype == np.uint8 and (back == labels).all()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_label_png_modes_and_errors(tmp_path):
    Image.fromarray(np.full((3, 4), 7, np.uint8), mode="L").save(tmp_path / "l.png")
    assert (read_label_png(tmp_path / "l.png") == 7).all()
    Image.new("RGB", (4, 3)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageLoadError, match=r"rgb\.png: a label PNG must be an index image"):
        read_label_png(tmp_path / "rgb.png")
    with pytest.raises(ImageSizeMismatch, match=r"l\.png: label map is 4x3 but image .*photo\.jpg is 5x3"):
        read_label_png(tmp_path / "l.png", expected_size=(5, 3), image_path=tmp_path / "photo.jpg")


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path, monkeypatch):
    ls = preset("camvid")
    path = tmp_path / "mask.png"
    old = np.zeros((10, 10), np.uint8)
    write_label_png(path, old, ls)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_label_png(path, np.ones((10, 10), np.uint8), ls)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["mask.png"]


def test_atomic_open_exception_midway(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_open(path, "w") as f:
            f.write("half of the new con")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["notes.json"]


def test_image_size_of_png_with_and_without_exif(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (30, 10)).save(plain)
    assert image_size(plain) == (30, 10)
    rotated = tmp_path / "rotated.png"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (30, 10)).save(rotated, exif=exif)
    assert image_size(rotated) == (10, 30)
    assert load_image(rotated).shape == (30, 10, 3)


def test_atomic_write_gives_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "fresh.png"
        write_label_png(path, np.zeros((2, 2), np.uint8), preset("camvid"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK
    os.chmod(path, 0o640)
    write_label_png(path, np.ones((2, 2), np.uint8), preset("camvid"))
    assert path.stat().st_mode & 0o777 == 0o640
