"""coco_rle: numpy's COCO RLE gives pycocotools' exact strings, areas and boxes, and decodes them back."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segstudio.core.formats.coco_rle import (compress_counts, decode_counts, decode_many, encode_label_map,
                                             rebuild_label_map)


def _maps():
    rng = np.random.default_rng(0)
    yield rng.integers(0, 4, (7, 5), dtype=np.uint8)  # runs of one pixel everywhere
    yield np.zeros((3, 4), np.uint8)  # one class covering everything
    blocky = np.kron(rng.integers(0, 6, (23, 31), dtype=np.uint8), np.ones((9, 11), np.uint8))
    blocky[40:60, :] = 255  # void rows: runs crossing columns
    yield blocky
    stripe = np.full((50, 2000), 1, np.uint8)
    stripe[:, 700] = 0  # counts above 2**15 and large negative deltas
    yield stripe


@pytest.mark.parametrize("labels", list(_maps()))
def test_encoding_equals_pycocotools(labels):
    classes = [int(c) for c in np.unique(labels) if c < 11]
    bodies = encode_label_map(labels, classes)
    assert len(bodies) == len(classes)
    for c, body in zip(classes, bodies):
        ref = mask_utils.encode(np.asfortranarray((labels == c).astype(np.uint8)))
        assert body["segmentation"] == {"size": list(labels.shape), "counts": ref["counts"].decode("ascii")}
        assert body["area"] == int(mask_utils.area(ref))
        assert body["bbox"] == mask_utils.toBbox(ref).tolist()
    decoded = decode_many([b["segmentation"]["counts"] for b in bodies])
    rebuilt = rebuild_label_map(*labels.shape, list(zip(classes, decoded)), 11)
    expected = labels.copy()
    expected[labels >= 11] = 11
    assert np.array_equal(rebuilt, expected)


def test_counts_round_trip_through_pycocotools():
    counts = np.array([0, 5, 100000, 3, 7, 2000000, 1, 1, 65, 33], np.int64)
    text = compress_counts(counts)
    assert np.array_equal(decode_counts(text), counts)
    mask = mask_utils.decode({"size": [1, int(counts.sum())], "counts": text.encode()})
    assert int(mask.sum()) == int(counts[1::2].sum())
    assert mask_utils.encode(np.asfortranarray(mask))["counts"].decode() == text
