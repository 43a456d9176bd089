"""The model wand (core.assist.model_wand) on a synthetic image with known superpixels and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.assist.model_wand import ModelWand
from segstudio.core.assist.superpixels import compute_superpixels
from segstudio.core.errors import SegstudioError

H, W = 120, 160
DISCS = ((40, 60, 22), (120, 60, 22))  # cx, cy, r: two yellow discs on grey


def discs_image():
    rng = np.random.default_rng(1)
    img = np.full((H, W, 3), 120, np.float32)
    yy, xx = np.mgrid[:H, :W]
    masks = [(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r for cx, cy, r in DISCS]
    for m in masks:
        img[m] = (230, 210, 50)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), masks


def half_res_probs(masks, p_disc):
    """3 classes at half resolution: class 2 has probability p_disc[i] on disc i, 0.02 elsewhere."""
    probs = np.zeros((3, H // 2, W // 2), np.float32)
    probs[2] = 0.02
    for m, p in zip(masks, p_disc):
        probs[2][m[::2, ::2]] = p
    probs[0] = 1.0 - probs[2]
    return probs


def full(bm):
    out = np.zeros((H, W), bool)
    (x0, y0, x1, y1), m = bm
    out[y0:y1, x0:x1] = m
    return out


@pytest.fixture(scope="module")
def scene():
    img, masks = discs_image()
    return img, masks, compute_superpixels(img, levels={"coarse": 30, "fine": 200})


def test_click_selects_the_clicked_disc_superpixels_only(scene):
    img, masks, sp = scene
    mw = ModelWand(half_res_probs(masks, (0.6, 0.9)), sp)
    got = full(mw.select("fine", 2, 40, 60, tolerance=0.25))
    seg = sp.full_labels("fine")
    means = mw.segment_means("fine", 2)
    assert np.array_equal(got, np.isin(seg, np.flatnonzero(means >= 0.25)) & (np.abs(np.arange(W) - 40) < 50)[None])
    assert (got & masks[0]).sum() / (got | masks[0]).sum() >= 0.9  # follows the disc's edge
    assert not (got & masks[1]).any()  # the other disc is not connected to the click


def test_tolerance_above_the_model_probability_selects_nothing(scene):
    img, masks, sp = scene
    mw = ModelWand(half_res_probs(masks, (0.6, 0.9)), sp)
    assert mw.select("fine", 2, 40, 60, tolerance=0.7) is None
    assert mw.select("fine", 2, 120, 60, tolerance=0.7) is not None
    assert mw.select("fine", 2, 5, 5, tolerance=0.1) is None  # background: 0.02
    assert mw.probability_at("fine", 2, 120, 60) == pytest.approx(0.9, abs=0.1)
    assert mw.probability_at("fine", 7, 120, 60) is None  # no such class
    assert mw.probability_at("fine", 2, W + 3, 60) is None  # outside the image


def test_low_tolerance_grows_over_the_connected_background(scene):
    img, masks, sp = scene
    mw = ModelWand(half_res_probs(masks, (0.6, 0.9)), sp)
    got = full(mw.select("fine", 0, 5, 5, tolerance=0.5))  # class 0: 0.98 outside the discs, 0.4 / 0.1 on them
    assert got[5, 5] and got[110, 150] and not got[60, 40] and not got[60, 120]


def test_rejects_what_is_not_probabilities(scene):
    with pytest.raises(SegstudioError, match="probabilities"):
        ModelWand(np.zeros((H, W), np.float32), scene[2])
