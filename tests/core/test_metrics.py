"""Known-answer tests for the confusion matrix and the figures derived from it."""

import math

import numpy as np
import pytest

from segstudio.core.metrics import ConfusionMatrix, confusion_for, scores_from_matrix


def test_hand_computed_three_class_example():
    # gt / pred over 8 pixels; class 2 never appears in the ground truth.
    gt = np.array([[0, 0, 0, 1, 1, 1, 1, 255]], np.uint8)
    pred = np.array([[0, 0, 1, 1, 1, 2, 0, 1]], np.uint8)
    cm = ConfusionMatrix(3)
    cm.update(gt, pred)
    assert cm.confusion.tolist() == [[2, 1, 0], [1, 2, 1], [0, 0, 0]]
    s = cm.scores()
    assert s.pixel_accuracy == pytest.approx(4 / 7)
    assert s.accuracy[0] == pytest.approx(2 / 3) and s.accuracy[1] == pytest.approx(2 / 4)
    assert math.isnan(s.accuracy[2])
    assert s.mean_accuracy == pytest.approx((2 / 3 + 2 / 4) / 2)
    # IoU_0 = 2 / (3 + 3 - 2); IoU_1 = 2 / (4 + 3 - 2); class 2 predicted but absent -> 0.
    assert s.iou.tolist()[:2] == pytest.approx([2 / 4, 2 / 5])
    assert s.iou[2] == 0.0
    assert s.mean_iou == pytest.approx((0.5 + 0.4 + 0.0) / 3)
    assert s.fw_iou == pytest.approx(3 / 7 * 0.5 + 4 / 7 * 0.4)
    assert s.gt_pixels.tolist() == [3, 4, 0] and s.pred_pixels.tolist() == [3, 3, 1]


def test_class_absent_everywhere_is_left_out_of_the_means():
    gt = np.array([[0, 0, 1, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1]], np.uint8)
    s = ConfusionMatrix(4).update(gt, pred)
    s = scores_from_matrix(s)
    assert math.isnan(s.iou[2]) and math.isnan(s.iou[3])
    assert s.mean_iou == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s.mean_accuracy == pytest.approx((1 / 2 + 1) / 2)


def test_ignore_index_and_stray_ground_truth_values_are_dropped():
    gt = np.array([[11, 11, 0, 200]], np.uint8)
    pred = np.array([[5, 3, 0, 7]], np.uint8)
    m = confusion_for(gt, pred, 11)
    assert m.sum() == 1 and m[0, 0] == 1


def test_out_of_range_predictions_count_as_errors_without_crashing():
    gt = np.array([[0, 0, 1, 1]], np.uint8)
    pred = np.array([[0, 250, 1, 3]], np.uint8)
    cm = ConfusionMatrix(2)
    cm.update(gt, pred)
    s = cm.scores()
    assert s.invalid_predictions == 2
    assert s.pixel_accuracy == pytest.approx(2 / 4)
    assert s.accuracy.tolist() == pytest.approx([0.5, 0.5])
    assert s.iou.tolist() == pytest.approx([0.5, 0.5])
    assert s.pred_pixels.tolist() == [1, 1]
    # int64 predictions from an argmax with huge or negative values do not crash either.
    cm.update(gt.astype(np.int64), np.array([[0, -3, 1, 10**6]], np.int64))
    assert cm.scores().invalid_predictions == 4


@pytest.mark.parametrize("n", [2, 11, 15, 16, 21, 255])
def test_matches_a_plain_bincount_for_any_class_count(n):
    rng = np.random.default_rng(n)
    gt = rng.integers(0, 256, (61, 47)).astype(np.uint8)
    pred = rng.integers(0, 256, (61, 47)).astype(np.uint8)
    valid = gt < n
    g, p = gt[valid].astype(np.int64), np.minimum(pred[valid], n).astype(np.int64)
    expected = np.bincount(g * (n + 1) + p, minlength=n * (n + 1)).reshape(n, n + 1)
    assert (confusion_for(gt, pred, n) == expected).all()


def test_counts_stay_exact_above_float32_precision(monkeypatch):
    import segstudio.core.metrics as metrics

    monkeypatch.setattr(metrics, "_CHUNK_PIXELS", 1000)  # force several chunks
    gt = np.zeros((300, 100), np.uint8)
    assert confusion_for(gt, gt, 3)[0, 0] == 30_000


def test_accumulates_over_images_not_mean_of_images():
    cm = ConfusionMatrix(2)
    cm.update(np.zeros((1, 100), np.uint8), np.zeros((1, 100), np.uint8))
    cm.update(np.ones((1, 1), np.uint8), np.zeros((1, 1), np.uint8))
    assert cm.scores().pixel_accuracy == pytest.approx(100 / 101)


def test_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="differ in size"):
        confusion_for(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8), 2)


def test_update_many_on_threads_equals_one_by_one():
    rng = np.random.default_rng(7)
    pairs = [(rng.integers(0, 13, (31, 17)).astype(np.uint8), rng.integers(0, 13, (31, 17)).astype(np.uint8))
             for _ in range(9)]
    one = ConfusionMatrix(11)
    for g, p in pairs:
        one.update(g, p)
    many = ConfusionMatrix(11)
    mats = many.update_many(iter(pairs), workers=3)
    assert len(mats) == 9 and (many.matrix == one.matrix).all()
    assert (mats[4] == confusion_for(*pairs[4], 11)).all()
