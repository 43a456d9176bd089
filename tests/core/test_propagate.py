"""Mask propagation on synthetic frames with a known motion: the warped mask is the shifted mask."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.core.assist.propagate import (Propagated, consistency, dense_flow, edited_pixels, fuse,
                                             propagate_labels, working_gray)
from segstudio.core.document import Document
from segstudio.core.states import ImageState

IGNORE = 255


def shifted_pair(h=120, w=160, dx=5, dy=3, seed=0, pad=24):
    """(prev image, image, prev labels, true labels of image): a textured scene moved by (dx, dy) px."""
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (h + 2 * pad, w + 2 * pad, 3), dtype=np.uint8), (0, 0), 1.5)
    yy, xx = np.mgrid[:h + 2 * pad, :w + 2 * pad]
    labels = ((xx // 23 + 2 * (yy // 17)) % 7).astype(np.uint8)
    prev = scene[pad:pad + h, pad:pad + w].copy()
    cur = scene[pad - dy:pad - dy + h, pad - dx:pad - dx + w].copy()
    return prev, cur, labels[pad:pad + h, pad:pad + w].copy(), labels[pad - dy:pad - dy + h, pad - dx:pad - dx + w]


def test_warped_mask_equals_the_shifted_mask():
    prev, cur, prev_labels, truth = shifted_pair(dx=5, dy=3)
    p = propagate_labels(prev_labels, prev, cur, IGNORE)
    assert np.array_equal(p.labels[p.consistent], truth[p.consistent])
    assert p.consistent[3:, 5:].all()  # everything that was visible before
    assert not p.consistent[:3].any() and not p.consistent[:, :5].any()  # newly visible: no label
    assert (p.labels[~p.consistent] == IGNORE).all()


def test_large_frames_use_a_working_resolution_and_still_land_on_the_pixel():
    prev, cur, prev_labels, truth = shifted_pair(h=720, w=1280, dx=12, dy=-8, pad=40)
    g, factor = working_gray(prev)
    assert max(g.shape) == 960 and factor == pytest.approx(0.75)
    p = propagate_labels(prev_labels, prev, cur, IGNORE)
    inner = np.zeros(truth.shape, bool)
    inner[4:-8 - 4, 12 + 4:-4] = True  # the bottom 8 rows and left 12 columns are newly visible
    assert (p.labels[inner] == truth[inner]).mean() > 0.995
    assert p.consistent[inner].mean() > 0.99


def test_unlabelled_source_pixels_stay_unlabelled():
    prev, cur, prev_labels, _ = shifted_pair()
    prev_labels[40:60, 50:90] = IGNORE
    p = propagate_labels(prev_labels, prev, cur, IGNORE)
    assert (p.labels[43:63, 55:95] == IGNORE).all()
    assert not p.consistent[43:63, 55:95].any()


def test_the_consistency_check_rejects_flow_that_does_not_come_back():
    h, w = 40, 50
    back = np.zeros((h, w, 2), np.float32)
    fwd = np.zeros((h, w, 2), np.float32)
    back[..., 0] = -4  # came from 4 px to the left
    fwd[..., 0] = 4    # ... and goes back there
    fwd[10:20, :, 0] = 0  # except in a band where the forward flow disagrees
    ok = consistency(back, fwd)
    assert ok[25:, 4:].all() and not ok[10:20, 8:].any()
    assert not ok[:, :3].any()  # sources outside the frame


def test_dense_flow_measures_the_shift():
    prev, cur, _, _ = shifted_pair(dx=6, dy=-2)
    back, fwd = dense_flow(cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY), cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY))
    assert np.median(back[20:-20, 20:-20, 0]) == pytest.approx(-6, abs=0.2)
    assert np.median(back[20:-20, 20:-20, 1]) == pytest.approx(2, abs=0.2)
    assert np.median(fwd[20:-20, 20:-20, 0]) == pytest.approx(6, abs=0.2)


def probs_of(labels: np.ndarray, p: float, k: int = 4) -> np.ndarray:
    """K x H x W probabilities giving `labels` probability p and the rest evenly."""
    out = np.full((k, *labels.shape), (1 - p) / (k - 1), np.float32)
    for c in range(k):
        out[c][labels == c] = p
    return out


def test_fuse_keeps_consistent_warps_and_unsure_inconsistent_ones():
    warped = np.array([[0, 0, 1, 1, 1, IGNORE]], np.uint8)
    consistent = np.array([[True, True, False, False, True, False]])
    prop = Propagated(warped, consistent, ignore_index=IGNORE)
    model = np.array([[2, 0, 3, 3, 3, 2]], np.uint8)
    sure = probs_of(model, 0.97)  # p(best) / p(any other) = 97
    unsure = probs_of(model, 0.4)  # ... = 2
    labels, from_warp = fuse(prop, sure, ratio=8.0)
    assert labels.tolist() == [[0, 0, 3, 3, 1, 2]]  # consistent: the warp; failed: the sure model
    assert from_warp.tolist() == [[True, True, False, False, True, False]]
    labels, _ = fuse(prop, unsure, ratio=8.0)
    assert labels.tolist() == [[0, 0, 1, 1, 1, 2]]  # failed but the model is unsure: the warp
    labels, _ = fuse(prop, sure, ratio=8.0, ratio_consistent=8.0)  # the model may override everywhere
    assert labels.tolist() == [[2, 0, 3, 3, 3, 2]]
    assert prop.labels.tolist() == [[0, 0, IGNORE, IGNORE, 1, IGNORE]]


def test_fuse_at_a_lower_model_resolution_and_without_a_model():
    warped = np.zeros((8, 8), np.uint8)
    warped[:, 4:] = 1
    prop = Propagated(warped, np.zeros((8, 8), bool))
    small = probs_of(np.full((4, 4), 2, np.uint8), 0.99)
    labels, _ = fuse(prop, small)
    assert (labels == 2).all()
    labels, from_warp = fuse(Propagated(warped, warped == 0), None)
    assert np.array_equal(labels, np.where(warped == 0, 0, IGNORE)) and np.array_equal(from_warp, warped == 0)


def test_edited_pixels_follow_the_history():
    doc = Document(ignore_index=IGNORE)
    doc.set_labels(np.full((20, 30), IGNORE, np.uint8))
    pred = np.zeros((20, 30), np.uint8)
    doc.apply_prediction(pred)
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:10] = True
    doc.apply_mask(mask, 3)                       # a person's edit
    doc.begin_stroke(4, 3)
    doc.extend_stroke(20, 15)
    doc.end_stroke()                              # a sparse one
    applied = doc.steps[:doc.history_index]
    edited = edited_pixels(doc.labels, IGNORE, False, applied)
    assert np.array_equal(edited, doc.labels != 0)
    doc.apply_prediction(pred)                    # a later prediction replaces the edits
    assert not edited_pixels(doc.labels, IGNORE, False, doc.steps[:doc.history_index]).any()
    doc.undo()
    assert np.array_equal(edited_pixels(doc.labels, IGNORE, False, doc.steps[:doc.history_index]), edited)


def test_a_mask_saved_by_a_person_counts_as_edited_where_it_is_labelled():
    labels = np.full((10, 10), IGNORE, np.uint8)
    labels[:5] = 2
    assert np.array_equal(edited_pixels(labels, IGNORE, True, []), labels != IGNORE)
    assert ImageState.PREDICTED.value == "predicted"
