"""Predicting at the scale the model learned (issue 12 item 5): the working scale comes from the
card's input.train_short_side, so the same frame at 4x and 12.5x its size gets the same labels."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from torch import nn

from segstudio.core.imageio import load_image
from segstudio.nets.card import make_card
from segstudio.nets.checkpoint import load_checkpoint
from segstudio.nets.predictor import Predictor
from segstudio.nets.upsample import upsample
from ..shapes_data import SHAPES_LABELSET
from segstudio.paths import DATA_DIR


class Probe(nn.Module):
    """A 1x1 convolution: records the input size it was given."""

    num_classes = 3
    output_stride = 1

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.sizes = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[2:]))
        return self.conv(x)


def probe_predictor(**input_extra) -> tuple[Probe, Predictor]:
    scale = input_extra.pop("_scale", None)
    card = make_card("segnet-basic", 0.125, SHAPES_LABELSET, name="probe")
    card["input"].update(input_extra)
    model = Probe()
    return model, Predictor(model, card, device="cpu", scale=scale)


def test_working_scale_follows_the_training_short_side_whatever_the_image_size():
    model, p = probe_predictor(train_short_side=90)
    for w, h in ((480, 360), (1920, 1440), (600, 450), (90, 120)):
        labels = p.predict(np.zeros((h, w, 3), np.uint8))
        assert labels.shape == (h, w)
        assert min(model.sizes[-1]) == 90  # the short side the network sees
    assert p.working_factor(6000, 4000) == pytest.approx(90 / 4000)


def test_scale_setting_overrides_the_card_and_old_cards_keep_input_resize():
    model, p = probe_predictor(train_short_side=90, _scale=1.0)
    p.predict(np.zeros((40, 60, 3), np.uint8))
    assert model.sizes[-1] == (40, 60)
    p.predict(np.zeros((40, 60, 3), np.uint8), scale=0.5)  # per call
    assert model.sizes[-1] == (20, 30)
    model, p = probe_predictor(resize=0.5)  # a card from before train_short_side
    p.predict(np.zeros((400, 600, 3), np.uint8))
    assert model.sizes[-1] == (200, 300)
    with pytest.raises(Exception, match="scale must be a number from 0.01 to 8"):
        probe_predictor(_scale=0.0)


def test_large_upsampling_takes_the_argmax_of_bilinear_probabilities(monkeypatch):
    rng = np.random.default_rng(0)
    probs = rng.random((4, 6, 8)).astype(np.float32)
    labels = probs.argmax(0).astype(np.uint8)
    small, small_margin = upsample(probs, 60, 80, with_margin=True)  # under the memory limit: one array
    import segstudio.nets.upsample as upsample_module

    monkeypatch.setattr(upsample_module, "MAX_UPSAMPLED_VALUES", 10)  # force the class-by-class path
    big, big_margin = upsample(probs, 60, 80, with_margin=True)
    assert big.shape == (60, 80) and (big == small).mean() > 0.99
    assert np.allclose(big_margin, small_margin, atol=1e-5)
    assert not np.array_equal(big, cv2.resize(labels, (80, 60), interpolation=cv2.INTER_NEAREST))


@pytest.mark.slow
@pytest.mark.parametrize("factor", [4.0, 12.5])
def test_upscaled_frame_agrees_with_the_native_prediction(factor):
    """The shipped SegNet-Basic on a CamVid frame, told it learned at short side 180 px."""
    model, card = load_checkpoint(DATA_DIR / "models" / "segnet-basic-camvid.safetensors")
    card = copy.deepcopy(card)
    card["input"]["train_short_side"] = 180
    p = Predictor(model, card, device="cpu")
    frame = load_image(sorted((DATA_DIR / "samples").glob("*.png"))[0])
    h, w = frame.shape[:2]
    native = p.predict(frame)
    big = cv2.resize(frame, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_CUBIC)
    labels = p.predict(big)
    assert labels.shape == big.shape[:2]
    back = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    assert (back == native).mean() >= 0.95
    if factor > 4:
        return
    # Without the training scale (resize by a fixed factor) the big frame is seen at the wrong scale.
    card["input"].pop("train_short_side")
    old = cv2.resize(Predictor(model, card, device="cpu").predict(big), (w, h), interpolation=cv2.INTER_NEAREST)
    assert (old == native).mean() < (back == native).mean()
