"""Label-map edit operations: exact footprints, bit-exact undo/redo, protection, memory."""

import math

import numpy as np
import pytest

from segstudio.core import labelmap as lm

IGN = 255


def _dist_to_segment(px, py, a, b):
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    L = dx * dx + dy * dy
    t = 0.0 if L == 0 else min(max(((px - ax) * dx + (py - ay) * dy) / L, 0.0), 1.0)
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _reference_stroke(shape, pts, size):
    r = lm.brush_radius(size)
    h, w = shape
    out = np.zeros(shape, bool)
    for y in range(h):
        for x in range(w):
            c = (x + 0.5, y + 0.5)
            segs = list(zip(pts, pts[1:])) or [(pts[0], pts[0])]
            out[y, x] = any(_dist_to_segment(*c, a, b) <= r for a, b in segs)
    return out


def test_stroke_paints_exactly_the_capsules_and_undo_redo_are_bit_exact():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, (40, 60), dtype=np.uint8)
    before = labels.copy()
    pts = [(3.2, 4.7), (30.1, 20.4), (55.0, 2.5), (10.0, 35.9)]
    diff = lm.paint_stroke(labels, pts, 7, size=5)
    expected = _reference_stroke(labels.shape, pts, 5)
    assert np.array_equal(labels == 7, expected | (before == 7))
    assert np.array_equal(labels[~expected], before[~expected])
    after = labels.copy()
    diff.revert(labels)
    assert np.array_equal(labels, before)
    diff.apply(labels)
    assert np.array_equal(labels, after)


def test_thin_fast_stroke_has_no_gaps():
    labels = np.full((100, 300), IGN, np.uint8)
    # two far-apart mouse positions: one long segment
    lm.paint_stroke(labels, [(1.3, 2.2), (290.7, 97.1)], 1, size=1)
    ys, xs = np.nonzero(labels == 1)
    # 8-connected: every column between the ends has a painted pixel, no jumps > 1 row
    cols = {x: ys[xs == x] for x in np.unique(xs)}
    assert set(cols) == set(range(xs.min(), xs.max() + 1))
    import cv2
    n, _ = cv2.connectedComponents((labels == 1).astype(np.uint8), connectivity=8)
    assert n == 2  # background + one stroke


def test_incremental_stroke_equals_one_shot_and_diff_covers_only_changes():
    a = np.full((200, 200), IGN, np.uint8)
    a[50:150, 50:150] = 2
    b = a.copy()
    pts = [(10, 10), (12, 11), (80, 90), (190, 30), (190, 31)]
    s = lm.Stroke(a, 3, 9)
    dirty = None
    for p in pts:
        dirty = lm.union(dirty, s.add_point(*p))
    d1 = s.finish()
    d2 = lm.paint_stroke(b, pts, 3, 9)
    assert np.array_equal(a, b)
    assert d1.bbox == d2.bbox == dirty
    assert d1.changed_pixels == int(np.count_nonzero(a == 3))


def test_sparse_diff_memory_grows_with_edited_area_not_bbox():
    labels = np.full((4000, 6000), IGN, np.uint8)
    d = lm.paint_stroke(labels, [(0, 0), (5999, 3999)], 1, 10)
    assert d.index is not None
    bbox_area = (d.bbox[2] - d.bbox[0]) * (d.bbox[3] - d.bbox[1])
    assert d.nbytes < 0.02 * bbox_area
    assert d.nbytes <= 6 * d.changed_pixels
    d.revert(labels)
    assert (labels == IGN).all()


def test_protect_other_classes():
    labels = np.full((20, 20), IGN, np.uint8)
    labels[:, 10:] = 4
    labels[:5, :] = 6
    before = labels.copy()
    lm.paint_stroke(labels, [(0, 10), (19.9, 10)], 1, size=30, only_over=[IGN])
    assert (labels[before == IGN] == 1).all()
    assert np.array_equal(labels[before != IGN], before[before != IGN])
    labels = before.copy()
    lm.paint_stroke(labels, [(0, 10), (19.9, 10)], 1, size=30, only_over=[IGN, 4])
    assert (labels[(before == IGN) | (before == 4)] == 1).all()
    assert (labels[before == 6] == 6).all()


def test_polygon_fill_matches_expected_rectangle_and_triangle():
    labels = np.full((30, 30), IGN, np.uint8)
    # vertices are the pixels clicked; the boundary pixels are included
    d = lm.fill_polygon(labels, [(5.2, 3.7), (14.9, 3.1), (14.5, 9.5), (5.0, 9.99)], 2)
    exp = np.full((30, 30), IGN, np.uint8)
    exp[3:10, 5:15] = 2
    assert np.array_equal(labels, exp)
    d.revert(labels)
    assert (labels == IGN).all()
    # triangle: pixel centres inside the half-plane x >= y are filled (+- boundary)
    lm.fill_polygon(labels, [(0, 0), (29, 0), (29, 29)], 1)
    yy, xx = np.mgrid[0:30, 0:30] + 0.5
    strictly_in = xx - yy > 1.0
    strictly_out = yy - xx > 1.0
    assert (labels[strictly_in] == 1).all()
    assert (labels[strictly_out] == IGN).all()


def test_flood_fill_fills_connected_region_only():
    labels = np.zeros((10, 10), np.uint8)
    labels[:, 5] = 3  # wall
    d = lm.flood_fill(labels, 1, 1, 7)
    assert (labels[:, :5] == 7).all()
    assert (labels[:, 5] == 3).all()
    assert (labels[:, 6:] == 0).all()
    assert d.bbox == (0, 0, 5, 10)
    d.revert(labels)
    assert (labels[:, :5] == 0).all()
    assert lm.flood_fill(labels, 5, 5, 3) is None  # same class: no change
    assert lm.flood_fill(labels, 1, 1, 7, only_over=[IGN]) is None  # protected


def test_replace_labels_only_unlabelled():
    labels = np.full((8, 8), IGN, np.uint8)
    labels[:2] = 5
    pred = np.full((8, 8), 1, np.uint8)
    d = lm.replace_labels(labels, pred, only_unlabelled=True, ignore_index=IGN)
    assert (labels[:2] == 5).all() and (labels[2:] == 1).all()
    d.revert(labels)
    assert (labels[2:] == IGN).all()
    d2 = lm.replace_labels(labels, pred)
    assert (labels == 1).all() and d2.index is None
    with pytest.raises(ValueError):
        lm.replace_labels(labels, np.zeros((3, 3), np.uint8))


def test_counts_delta_and_outline():
    labels = np.full((10, 10), IGN, np.uint8)
    d = lm.fill_polygon(labels, [(2, 2), (6, 2), (6, 6), (2, 6)], 3)
    delta = d.counts_delta()
    assert delta[3] == 25 and delta[IGN] == -25
    o = lm.outline(labels, IGN)
    assert o[2, 2] == 3 and o[3, 3] == IGN and o[0, 0] == IGN
    assert lm.pick(labels, 3.9, 3.1) == 3 and lm.pick(labels, -1, 0) is None
