"""Confidence from probabilities and Monte-Carlo dropout on a small real model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from segstudio.core.labels import camvid
from segstudio.nets.card import make_card
from segstudio.nets.predictor import Predictor
from segstudio.nets.uncertainty import confidence_from_probs, has_dropout, mc_dropout, working_probabilities


def probs_2x2():
    # pixel 0: certain; pixel 1: two classes tie; pixel 2: uniform; pixel 3: 0.6/0.3/0.1
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]], np.float32)
    return p.T.reshape(3, 2, 2)


def test_margin_maxprob_entropy_known_values():
    p = probs_2x2()
    np.testing.assert_allclose(confidence_from_probs(p, "margin").ravel(), [1, 0, 0, 0.3], atol=1e-6)
    np.testing.assert_allclose(confidence_from_probs(p, "maxprob").ravel(), [1, 0.5, 1 / 3, 0.6], atol=1e-6)
    ent = confidence_from_probs(p, "entropy").ravel()
    assert ent[0] == pytest.approx(1) and ent[2] == pytest.approx(0, abs=1e-6) and 0 < ent[3] < ent[0]
    with pytest.raises(ValueError):
        confidence_from_probs(p, "nope")


class TinyDropoutNet(nn.Module):
    """Left half of the image: a confident class from a fixed path; right half: through dropout."""

    num_classes = 11
    output_stride = 1
    tile_overlap = 0

    def __init__(self, with_dropout=True):
        super().__init__()
        self.drop = nn.Dropout(0.5) if with_dropout else nn.Identity()

    def forward(self, x):
        n, _, h, w = x.shape
        logits = torch.zeros(n, 11, h, w)
        logits[:, 0, :, : w // 2] = 20.0
        noisy = self.drop(torch.full((n, 1, h, w // 2 + w % 2), 3.0))
        logits[:, 1, :, w // 2:] = noisy[:, 0]
        return logits


def card():
    # The card's arch is only checked against known names; the tiny module stands in for the network.
    return make_card("fcn8s", 0.0625, camvid(), input_norm={"channel_order": "RGB", "scale": 1 / 255,
                                                             "mean": [0, 0, 0], "std": [1, 1, 1]})


def test_mc_dropout_confidence_low_only_where_dropout_varies():
    pred = Predictor(TinyDropoutNet(), card(), device="cpu", tile_size=64)
    assert has_dropout(pred.model)
    img = np.zeros((8, 16, 3), np.uint8)
    labels, conf, mean = mc_dropout(pred, img, samples=16)
    assert (labels[:, :8] == 0).all() and (conf[:, :8] > 0.99).all()
    assert conf[:, 8:].mean() < 0.6
    assert mean.shape == (11, 8, 16)
    assert not pred.model.drop.training  # dropout back in eval mode


def test_mc_dropout_refuses_models_without_dropout():
    pred = Predictor(TinyDropoutNet(with_dropout=False), card(), device="cpu", tile_size=64)
    with pytest.raises(ValueError, match="dropout"):
        mc_dropout(pred, np.zeros((8, 16, 3), np.uint8))


def test_working_probabilities_are_the_predictions_before_upsampling():
    pred = Predictor(TinyDropoutNet(with_dropout=False), card(), device="cpu", tile_size=64)
    pred.scale = 0.25  # the studio's Model > Prediction Scale
    img = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    probs = working_probabilities(pred, img)
    assert probs.shape == (11, 16, 32) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    assert (probs[0, :, :16] > 0.99).all() and (probs[1, :, 16:] > probs[0, :, 16:]).all()
    labels, full = pred.predict(img, return_probs=True)
    up = cv2.resize(probs.transpose(1, 2, 0), (128, 64), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    np.testing.assert_allclose(full, up, atol=1e-5)  # the same planes the prediction upsampled
