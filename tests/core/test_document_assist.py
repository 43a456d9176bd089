"""Document entry points of the assisted tools: a cropped mask and a box of labels, each one undo step."""

from __future__ import annotations

import numpy as np

from segstudio.core.document import Document, protect_all_but


def doc_with(labels):
    d = Document(ignore_index=255)
    d.set_labels(labels.copy())
    return d


def test_apply_mask_with_origin_equals_full_mask_and_undoes():
    base = np.random.default_rng(0).integers(0, 4, (40, 50), dtype=np.uint8)
    crop = np.zeros((10, 12), bool)
    crop[2:8, 3:11] = True
    full = np.zeros((40, 50), bool)
    full[20:30, 30:42] = crop
    a, b = doc_with(base), doc_with(base)
    a.apply_mask(full, 7, protect={2})
    b.apply_mask(crop, 7, protect={2}, origin=(30, 20))
    assert np.array_equal(a.labels, b.labels) and b.history_length == 1
    b.undo()
    assert np.array_equal(b.labels, base)
    c = doc_with(base)  # a crop hanging over the edge is clipped
    c.apply_mask(np.ones((10, 10), bool), 9, origin=(45, -5))
    assert (c.labels[:5, 45:] == 9).all() and (c.labels[5:, :] == base[5:, :]).all()
    assert c.apply_mask(np.ones((3, 3), bool), 9, origin=(60, 60)) is None


def test_apply_labels_writes_a_box_of_classes_in_one_step_and_respects_protect():
    base = np.full((30, 30), 255, np.uint8)
    base[:, 20:] = 5
    d = doc_with(base)
    values = np.tile(np.array([1, 2], np.uint8), (10, 8))  # 10 x 16, two classes
    d.apply_labels(10, 5, values, protect=protect_all_but({255}))  # only unlabelled may change
    assert np.array_equal(d.labels[5:15, 10:20], values[:, :10])
    assert (d.labels[5:15, 20:26] == 5).all()  # protected class kept
    assert d.history_length == 1
    d.undo()
    assert np.array_equal(d.labels, base)
