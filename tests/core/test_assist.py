"""Assisted-correction core functions on synthetic images with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.core.assist.confidence_store import (confidence_path, load_confidence, mean_confidence,
                                                    save_confidence)
from segstudio.core.assist.grabcut import grabcut_box
from segstudio.core.assist.regions import low_confidence_regions
from segstudio.core.assist.superpixels import compute_superpixels, watershed_superpixels
from segstudio.core.assist.wand import Wand
from segstudio.core.errors import SegstudioError


def two_colour_image(h=120, w=160, seed=0):
    """Left half red-ish, right half blue-ish, light noise; the answer is the half clicked."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    img[:, : w // 2] = (200, 40, 40)
    img[:, w // 2:] = (40, 60, 200)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def full(shape, bm):
    out = np.zeros(shape, bool)
    (x0, y0, x1, y1), m = bm
    out[y0:y1, x0:x1] = m
    return out


def test_wand_click_selects_exactly_the_clicked_half():
    img = two_colour_image()
    wand = Wand(img)
    left = full(img.shape[:2], wand.select(10, 50, tolerance=25))
    expected = np.zeros(img.shape[:2], bool)
    expected[:, :80] = True
    assert np.array_equal(left, expected)
    right = full(img.shape[:2], wand.select(150, 5, tolerance=25))
    assert np.array_equal(right, ~expected)


def test_wand_region_is_connected_and_tolerance_grows_it():
    img = two_colour_image()
    img[:, 20:24] = (40, 60, 200)  # a blue stripe cuts the red half in two
    wand = Wand(img)
    sel = full(img.shape[:2], wand.select(5, 5, tolerance=25))
    assert sel[:, :20].all() and not sel[:, 20:].any()  # same colour beyond the stripe is not connected
    assert full(img.shape[:2], wand.select(5, 5, tolerance=400)).all()
    assert wand.select(-1, 5, 10) is None


def test_wand_stops_at_a_weak_edge_within_the_tolerance():
    """Two greys 8.6 Lab units apart, both within the default tolerance 12 of each other: the edge stop
    keeps a click on the dark half there (the CamVid case: road next to a dark building)."""
    rng = np.random.default_rng(3)
    img = np.zeros((100, 160, 3), np.float32)
    img[:, :80], img[:, 80:] = 90, 112
    img = np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)
    expected = np.zeros(img.shape[:2], bool)
    expected[:, :80] = True
    assert np.array_equal(full(img.shape[:2], Wand(img).select(10, 50, tolerance=12)), expected)
    assert np.array_equal(full(img.shape[:2], Wand(img).select(150, 50, tolerance=12)), ~expected)
    # Without the edge stop the same click floods both halves.
    assert full(img.shape[:2], Wand(img, edge_ratio=None).select(10, 50, tolerance=12)).all()
    # A tolerance well above the edge's strength crosses it again (one knob).
    assert full(img.shape[:2], Wand(img).select(10, 50, tolerance=60)).all()


def test_wand_rejects_non_rgb():
    with pytest.raises(SegstudioError):
        Wand(np.zeros((4, 4), np.uint8))


def test_superpixels_cover_image_and_respect_a_colour_edge():
    img = two_colour_image(96, 128)
    labels = watershed_superpixels(img, 48)
    assert labels.shape == (96, 128) and labels.min() == 0
    assert 30 <= labels.max() + 1 <= 60
    # No segment straddles the colour edge at x = 64.
    left, right = set(np.unique(labels[:, :64])), set(np.unique(labels[:, 64:]))
    assert not left & right


def test_superpixel_click_mask_is_exactly_that_segment():
    img = two_colour_image(90, 120, seed=3)
    sp = compute_superpixels(img, {"fine": 60, "coarse": 15})
    labels = sp.full_labels("fine")
    seg = sp.segment_at("fine", 33.7, 41.2)
    assert seg == labels[41, 33]
    assert np.array_equal(full(labels.shape, sp.mask("fine", [seg])), labels == seg)
    assert sp.count("coarse") < sp.count("fine")
    ids = sp.segments_along("fine", [(2, 2), (110, 80)])
    assert ids[0] == labels[2, 2] and labels[80, 110] in ids and len(ids) == len(set(ids))
    assert np.array_equal(full(labels.shape, sp.mask("fine", ids)), np.isin(labels, ids))


def test_superpixels_of_a_large_image_map_to_full_resolution():
    img = np.repeat(np.repeat(two_colour_image(60, 80, seed=5), 25, 0), 25, 1)  # 1500 x 2000
    sp = compute_superpixels(img, {"fine": 40}, max_pixels=60 * 80)
    assert sp.work_shape == (60, 80) and sp.shape == (1500, 2000)
    labels = sp.full_labels("fine")
    for x, y in [(0, 0), (1999, 1499), (1012.5, 733.2), (999, 3)]:
        seg = sp.segment_at("fine", x, y)
        assert seg == labels[int(y), int(x)]
        assert np.array_equal(full(labels.shape, sp.mask("fine", [seg])), labels == seg)
    assert sp.segment_at("fine", 2000, 5) is None
    assert sp.boundaries("fine").shape == (60, 80)


def disc_image(h=200, w=240, c=(120, 100), r=55, seed=1):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    disc = (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= r * r
    img = rng.normal(0, 12, (h, w, 3)) + np.where(disc[..., None], (210, 190, 60), (60, 110, 160))
    return np.clip(img, 0, 255).astype(np.uint8), disc


@pytest.mark.parametrize("size", [(200, 240), (900, 1000)])
def test_grabcut_recovers_a_disc(size):
    h, w = size
    r = min(h, w) // 4
    img, disc = disc_image(h, w, (w // 2, h // 2), r)
    box = (w // 2 - r - 8, h // 2 - r - 8, w // 2 + r + 9, h // 2 + r + 9)
    got = full(disc.shape, grabcut_box(img, box))
    iou = (got & disc).sum() / (got | disc).sum()
    assert iou >= 0.95


def test_grabcut_hints_move_pixels_between_foreground_and_background():
    img, disc = disc_image()
    box = (55, 35, 186, 166)
    bg = np.zeros(disc.shape, bool)
    bg[90:110, 110:130] = True  # "this part of the disc is background"
    got = full(disc.shape, grabcut_box(img, box, bg_hint=bg))
    assert not got[bg].any()
    assert got[disc & ~bg].mean() > 0.9
    assert grabcut_box(img, (5, 5, 6, 6)) is None


def test_low_confidence_regions_largest_first():
    conf = np.full((100, 100), 250, np.uint8)
    conf[10:20, 10:20] = 20   # 100 px
    conf[50:80, 40:70] = 60   # 900 px
    conf[90:92, 90:92] = 0    # 4 px: below min_area
    regs = low_confidence_regions(conf, threshold=0.5, min_area=16)
    assert [r.area for r in regs] == [900, 100]
    assert regs[0].bbox == (40, 50, 70, 80)
    cx, cy = regs[0].center
    assert 40 <= cx < 70 and 50 <= cy < 80
    assert regs[0].mean_confidence == pytest.approx(60 / 255, abs=1e-6)


def test_confidence_saved_beside_mask_survives_reopening(tmp_path):
    conf = (np.arange(30 * 40).reshape(30, 40) % 256).astype(np.uint8)
    path = save_confidence(tmp_path / "masks", "img_01", conf)
    assert path == confidence_path(tmp_path / "masks", "img_01") and path.parent.name == ".confidence"
    assert np.array_equal(load_confidence(tmp_path / "masks", "img_01", size=(40, 30)), conf)
    assert load_confidence(tmp_path / "masks", "img_01", size=(41, 30)) is None  # stale: other size
    assert load_confidence(tmp_path / "masks", "nope") is None
    assert mean_confidence(tmp_path / "masks", "img_01") == pytest.approx(conf.mean() / 255)
    path.write_bytes(b"not a png")
    assert load_confidence(tmp_path / "masks", "img_01") is None
    assert [p.name for p in path.parent.iterdir()] == ["img_01.png"]  # no temporary left behind


def test_wand_on_a_large_image_works_downscaled_and_maps_back():
    img = np.repeat(np.repeat(two_colour_image(40, 60, seed=2), 20, 0), 20, 1)  # 800 x 1200
    wand = Wand(img, max_pixels=200_000)
    assert wand.factor < 1 and wand.shape[0] < 800
    sel = full(img.shape[:2], wand.select(100, 700, tolerance=25))
    expected = np.zeros(img.shape[:2], bool)
    expected[:, :600] = True
    # Exact away from the colour edge; the edge column band is as wide as one working pixel.
    assert np.array_equal(sel[:, :590], expected[:, :590]) and not sel[:, 610:].any()


def test_grabcut_seeds_opencvs_rng_so_a_box_does_not_depend_on_what_ran_before():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    draws = []
    for prior in (1, 2):
        cv2.setRNGSeed(prior)  # whatever ran before on this thread
        mask = grabcut_box(img, (25, 15, 95, 75))[1]
        after = np.zeros(4, np.float32)
        cv2.randu(after, 0, 1)  # the RNG's state after GrabCut's k-means
        draws.append((mask, after))
    assert np.array_equal(draws[0][0], draws[1][0])
    assert np.array_equal(draws[0][1], draws[1][1])  # seeded inside: the same state both times
