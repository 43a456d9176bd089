"""coco_rle: numpy's COCO RLE gives pycocotools' exact strings, areas and boxes, and decodes them back to runs."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segstudio.core.formats.coco_rle import _decode_concat, canonical_runs, decode_runs, encode_runs, label_runs


def _encode(labels, k=11):
    """(classes, bodies) of the classes < k of a label map, as the exporter makes them."""
    starts, ends, values = label_runs(labels)
    keep = values < k
    return encode_runs(starts[keep], ends[keep], values[keep], *labels.shape)


def _paint(texts, classes, h, w, fill):
    """The H x W map the decoded runs of `texts` (one class each) paint over `fill`."""
    flat = np.full(h * w, fill, np.uint8)  # column-major
    starts, ends, owner, _ = decode_runs(texts) if texts else ([], [], [], [])
    for a, b, o in zip(starts, ends, owner):
        flat[a:b] = classes[o]
    return flat.reshape(w, h).T


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
    found, bodies = _encode(labels)
    assert found == classes
    assert len(bodies) == len(classes)
    for c, body in zip(classes, bodies):
        ref = mask_utils.encode(np.asfortranarray((labels == c).astype(np.uint8)))
        assert body["segmentation"] == {"size": list(labels.shape), "counts": ref["counts"].decode("ascii")}
        assert body["area"] == int(mask_utils.area(ref))
        assert body["bbox"] == mask_utils.toBbox(ref).tolist()
    rebuilt = _paint([b["segmentation"]["counts"] for b in bodies], classes, *labels.shape, 11)
    expected = labels.copy()
    expected[labels >= 11] = 11
    assert np.array_equal(rebuilt, expected)


def test_counts_round_trip_through_pycocotools():
    counts = np.array([0, 5, 100000, 3, 7, 2000000, 1, 1, 65, 33], np.int64)
    bounds = np.cumsum(counts)  # the runs of ones these counts describe, encoded as the exporter does
    _, (body,) = encode_runs(bounds[0::2], bounds[1::2], np.ones(len(counts) // 2, np.uint8), 1, int(bounds[-1]))
    text = body["segmentation"]["counts"]
    assert np.array_equal(_decode_concat([text])[0], counts)
    mask = mask_utils.decode({"size": [1, int(counts.sum())], "counts": text.encode()})
    assert int(mask.sum()) == int(counts[1::2].sum())
    assert mask_utils.encode(np.asfortranarray(mask))["counts"].decode() == text


def _binary_cases():
    rng = np.random.default_rng(7)
    for h, w in [(1, 1), (1, 9), (9, 1), (7, 13), (33, 17), (64, 48)]:
        yield "empty", np.zeros((h, w), np.uint8)
        yield "full", np.ones((h, w), np.uint8)
        for y, x in {(0, 0), (h - 1, w - 1), (h // 2, w // 2)}:
            one = np.zeros((h, w), np.uint8)
            one[y, x] = 1
            yield "pixel", one
        for density in (0.05, 0.5, 0.95):
            m = (rng.random((h, w)) < density).astype(np.uint8)
            m[0, 0] = 0
            yield "first unset", m.copy()
            m[0, 0] = 1
            yield "first set", m


@pytest.mark.parametrize("case,mask", list(_binary_cases()))
def test_binary_masks_byte_equal_to_pycocotools(case, mask):
    """Every class of a 0/1 map (the mask and its complement) encodes to pycocotools' exact RLE."""
    h, w = mask.shape
    present = [int(c) for c in np.unique(mask)]
    found, bodies = _encode(mask)
    assert found == present
    bodies = dict(zip(found, bodies))
    for c in (0, 1):
        ref = mask_utils.encode(np.asfortranarray((mask == c).astype(np.uint8)))
        if c not in bodies:  # an empty mask: pycocotools' counts are one run of zeros
            assert _decode_concat([ref["counts"].decode()])[0].tolist() == [h * w]
            continue
        assert bodies[c]["segmentation"]["counts"] == ref["counts"].decode("ascii"), case
        assert bodies[c]["area"] == int(mask_utils.area(ref))
        assert bodies[c]["bbox"] == mask_utils.toBbox(ref).tolist()


@pytest.mark.parametrize("labels", list(_maps()))
def test_decode_runs_gives_back_the_class_runs(labels):
    classes = [int(c) for c in np.unique(labels) if c < 11]
    starts, ends, values = label_runs(labels)
    keep = values < 11
    found, bodies = encode_runs(starts[keep], ends[keep], values[keep], *labels.shape)
    assert found == classes
    s, e, owner, totals = decode_runs([b["segmentation"]["counts"] for b in bodies])
    assert (totals == labels.size).all()
    runs = canonical_runs(s, e, np.asarray(found)[owner])
    for got, want in zip(runs, (starts[keep], ends[keep], values[keep])):
        np.testing.assert_array_equal(got, want)
    # overlapping runs are refused, touching runs of one value are joined
    assert canonical_runs(np.array([0, 3]), np.array([5, 8]), np.array([1, 2])) is None
    joined = canonical_runs(np.array([4, 0]), np.array([9, 4]), np.array([1, 1]))
    assert [a.tolist() for a in joined] == [[0], [9], [1]]
