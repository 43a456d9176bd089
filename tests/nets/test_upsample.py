"""nets.upsample: OpenCV upsampling of probabilities equals torch's bilinear interpolate, margin and softmax."""

import numpy as np
import pytest
import torch

from segstudio.nets.upsample import margin, softmax, upsample


@pytest.mark.parametrize("k", [1, 3, 11])
def test_upsampled_labels_and_probs_match_torch_interpolate(k):
    rng = np.random.default_rng(k)
    logits = rng.normal(size=(k, 9, 13)).astype(np.float32)
    probs = softmax(logits)
    ref = torch.softmax(torch.from_numpy(logits), 0)
    assert np.allclose(probs, ref.numpy(), atol=1e-6)
    up = torch.nn.functional.interpolate(ref[None], size=(37, 50), mode="bilinear", align_corners=False)[0]
    labels, got = upsample(probs, 37, 50, with_probs=True)
    assert got.shape == (k, 37, 50) and np.allclose(got, up.numpy(), atol=1e-5)
    assert (labels == up.argmax(0).numpy()).mean() > 0.999


def test_margin_is_best_minus_second_best():
    hwk = np.array([[[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]]], np.float32)  # 1 x 2 pixels, 3 classes
    labels = hwk.argmax(2).astype(np.uint8)
    assert np.allclose(margin(hwk, labels), [[0.5, 0.0]])
    _, m = upsample(np.transpose(hwk, (2, 0, 1)), 1, 2, with_margin=True)
    assert np.allclose(m, [[0.5, 0.0]])
    one = np.ones((1, 4, 4), np.float32)
    assert np.array_equal(upsample(one, 8, 8, with_margin=True)[1], np.ones((8, 8), np.float32))
