"""Pretrained features for the similar-region click (nets/features.py)."""

import numpy as np
import pytest
import torch

from segstudio.core.labels import camvid
from segstudio.nets import build_model
from segstudio.nets.card import make_card
from segstudio.nets.errors import ModelError
from segstudio.nets.features import pretrained_features
from segstudio.nets.predictor import Predictor


def test_lite0_features_are_unit_length_at_stride_8_of_the_working_scale():
    torch.manual_seed(0)
    card = make_card("fcn8s-lite0", 1.0, camvid())
    card["input"]["train_short_side"] = 64  # a 128 x 96 image is worked on at 85 x 64
    p = Predictor(build_model("fcn8s-lite0", 11), card, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    f = pretrained_features(p, image)
    assert f.dtype == np.float16 and f.shape == (64 + 112, 8, 11)
    assert np.allclose(np.linalg.norm(f.astype(np.float32), axis=0), 1.0, atol=1e-2)


def test_another_architecture_is_named():
    p = Predictor(build_model("segnet-basic", 11, 0.125), make_card("segnet-basic", 0.125, camvid()), device="cpu")
    with pytest.raises(ModelError, match="segnet-basic"):
        pretrained_features(p, np.zeros((32, 32, 3), np.uint8))
