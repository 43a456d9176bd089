"""Test-time augmentation (Predictor.tta): mirrored and rescaled views are brought back into register
with the image before their probabilities are averaged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from segstudio.nets.card import make_card
from segstudio.nets.errors import ModelError
from segstudio.nets.predictor import TTA_VIEWS, Predictor
from ..shapes_data import SHAPES_LABELSET
from .test_predict_scale import Probe


class Pointwise(Probe):
    """A 1x1 convolution picking the strongest colour channel: each pixel's logits depend on its own
    colour only, so any view agrees. Records its input sizes."""

    def __init__(self):
        super().__init__()
        with torch.no_grad():
            self.conv.weight.copy_(4.0 * torch.eye(3)[:, :, None, None])
            self.conv.bias.zero_()


class LeftRight(nn.Module):
    """Ignores the image: class 0 on the left, class 1 on the right (a model that is not mirror-symmetric)."""

    num_classes = 3
    output_stride = 1

    def forward(self, x):
        n, _, h, w = x.shape
        ramp = torch.linspace(3.0, -3.0, w).expand(n, 1, h, w)
        return torch.cat([ramp, -ramp, torch.full_like(ramp, -9.0)], 1)


def _predictor(model, tta, **kw):
    card = make_card("segnet-basic", 0.125, SHAPES_LABELSET, name="probe")
    if "short" in kw:
        card["input"]["train_short_side"] = kw.pop("short")
    return Predictor(model, card, device="cpu", tta=tta, **kw)


def _blocks(h=60, w=80):
    """Three colour blocks: red, green, blue vertical bands."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 3, 0] = 255
    img[:, w // 3: 2 * w // 3, 1] = 255
    img[:, 2 * w // 3:, 2] = 255
    return img


def test_mirrored_view_is_flipped_back_before_averaging():
    img = _blocks()
    labels, probs = _predictor(LeftRight(), None, scale=1.0).predict(img, return_probs=True)
    assert (labels[:, :30] == 0).all() and (labels[:, -30:] == 1).all()
    _, probs = _predictor(LeftRight(), "flip", scale=1.0).predict(img, return_probs=True)
    # The view and its mirror, flipped back, average to a mirror-symmetric map (left and right equally unsure).
    assert np.allclose(probs, probs[:, :, ::-1], atol=1e-6)
    assert np.allclose(probs[0], probs[1], atol=1e-6)


@pytest.mark.parametrize("tta", list(TTA_VIEWS))
def test_views_agree_with_one_view_for_a_pointwise_model(tta):
    img = _blocks()
    model = Pointwise()
    plain = _predictor(model, None, scale=1.0).predict(img)
    model.sizes.clear()
    labels, conf = _predictor(model, tta, scale=1.0).predict_confidence(img)
    assert labels.shape == (60, 80) and conf.shape == (60, 80)
    assert (labels == plain).mean() > 0.97  # only the resampled bands' edges may differ
    assert (labels[:, 5:20] == 0).all() and (labels[:, 32:48] == 1).all() and (labels[:, 60:75] == 2).all()
    expected = {(round(60 * s), round(80 * s)) for s, _ in TTA_VIEWS[tta]}
    assert set(model.sizes) == expected and len(model.sizes) == len(TTA_VIEWS[tta])


def test_tta_works_at_the_working_scale_and_in_batches():
    img = _blocks(120, 160)
    model = Pointwise()
    p = _predictor(model, "flip", short=60)  # the card's training scale: predicted at half size
    out = p.predict_batch([img, img])
    assert all(o.shape == (120, 160) for o in out)
    assert set(model.sizes) == {(60, 80)} and len(model.sizes) == 4
    assert p.predict_working_probs(img).shape == (3, 60, 80)


def test_unknown_tta_is_a_clear_error():
    with pytest.raises(ModelError, match="flip, flip\\+scales"):
        _predictor(Pointwise(), "rotate")
    p = _predictor(Pointwise(), None)
    with pytest.raises(ModelError, match="got 'rotate'"):
        p.tta = "rotate"  # as a setting could be
    assert p.tta is None and p.predict(_blocks()).shape == (60, 80)
