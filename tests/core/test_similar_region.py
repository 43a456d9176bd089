"""The similar-region click's core (core/assist/similar_region.py) on synthetic features and superpixels."""

import numpy as np
import pytest

from segstudio.core.assist.similar_region import SimilarRegion
from segstudio.core.assist.superpixels import Superpixels
from segstudio.core.errors import SegstudioError


def grid_superpixels(h=60, w=80, cell=10) -> Superpixels:
    ys, xs = np.mgrid[0:h, 0:w]
    labels = (ys // cell) * (w // cell) + xs // cell
    return Superpixels((h, w), {"medium": labels.astype(np.int32)})


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def features_with(regions, h=60, w=80, stride=4):
    """C x h/stride x w/stride unit features: `regions` = [(bool mask at h x w, vector)] over a default."""
    f = np.broadcast_to(unit([0, 0, 1, 0])[:, None, None], (4, h, w)).copy()
    for mask, v in regions:
        f[:, mask] = unit(v)[:, None]
    return f[:, ::stride, ::stride].astype(np.float16)


def test_a_click_takes_the_connected_similar_superpixels_and_not_a_similar_island():
    h, w = 60, 80
    obj = np.zeros((h, w), bool)
    obj[10:40, 10:50] = True  # whole cells: 3 x 4 superpixels
    island = np.zeros((h, w), bool)
    island[50:60, 70:80] = True  # the same feature, not connected
    f = features_with([(obj, [1, 0, 0, 0]), (island, [1, 0, 0, 0])])
    sr = SimilarRegion(f, grid_superpixels())
    (x0, y0, x1, y1), m = sr.select("medium", 25, 25, 0.2)
    full = np.zeros((h, w), bool)
    full[y0:y1, x0:x1] = m
    assert np.array_equal(full, obj)


def test_the_tolerance_lets_in_features_by_their_cosine_distance():
    h, w = 60, 80
    a = np.zeros((h, w), bool)
    a[0:30, 0:40] = True
    b = np.zeros((h, w), bool)
    b[0:30, 40:80] = True  # beside a, at 45 degrees: distance 1 - cos 45 = 0.29
    f = features_with([(a, [1, 0, 0, 0]), (b, [1, 1, 0, 0])])
    sr = SimilarRegion(f, grid_superpixels())
    assert sr.select("medium", 5, 5, 0.2)[1].sum() == a.sum()
    bbox, m = sr.select("medium", 5, 5, 0.35)
    assert m.sum() == a.sum() + b.sum() and bbox[:3] == (0, 0, 80)
    assert sr.distances("medium", 0)[0] == 0.0
    assert sr.select("medium", -1, 5, 0.5) is None


def test_bad_features_are_refused():
    with pytest.raises(SegstudioError, match="C x H x W"):
        SimilarRegion(np.zeros((4, 4), np.float16), grid_superpixels())
