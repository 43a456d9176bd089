"""Images of any shape are predicted with a bounded working size (issue 25 item 1): a 4000x3 image once
made a 240,000-px-wide array and died with MemoryError after minutes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torch import nn

from segstudio.nets.card import make_card
from segstudio.nets.errors import ModelError
from segstudio.nets.predictor import Predictor
from segstudio.nets.working_size import MAX_STRIP_SIDE, MAX_UPSCALED_SIDE, bounded_factor, pad_to, working_dims
from ..shapes_data import SHAPES_LABELSET


class Probe(nn.Module):
    """A 1x1 convolution (each pixel's labels depend on that pixel only) that records its input sizes
    and, like a real network, needs inputs of at least `output_stride` px a side."""

    num_classes = 3
    tile_overlap = 32

    def __init__(self, stride: int = 16):
        super().__init__()
        self.output_stride = stride
        self.conv = nn.Conv2d(3, 3, 1)
        self.sizes = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[2:]))
        assert min(x.shape[2:]) >= self.output_stride, f"the network got {tuple(x.shape[2:])}"
        return self.conv(x)


def predictor(stride=16, short=180, **kw):
    card = make_card("segnet-basic", 0.125, SHAPES_LABELSET, name="probe")
    if short:
        card["input"]["train_short_side"] = short
    model = Probe(stride)
    messages = []
    return model, Predictor(model, card, device="cpu", on_message=messages.append, **kw), messages


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("h,w", [(3, 4000), (4000, 3), (1, 5000), (5000, 1), (2, 100000), (100000, 2), (1, 1),
                                 (2, 2), (7, 5)])
def test_any_shape_is_predicted_at_a_bounded_working_size(h, w):
    model, p, messages = predictor()
    labels = p.predict(_image(h, w))
    assert labels.shape == (h, w) and labels.dtype == np.uint8
    assert all(max(s) <= MAX_UPSCALED_SIDE and min(s) >= 16 for s in model.sizes)
    assert sum(a * b for a, b in model.sizes) <= 16 * MAX_UPSCALED_SIDE * 2  # a few tiles of a strip, no more
    if max(h, w) > 100:  # the card asked for a 60x-180x upscaling: it was bounded, and said
        assert len(messages) == 1 and f"a {w}x{h} image is predicted at" in messages[0]


def test_the_4000x3_image_of_the_issue_at_the_cards_scale():
    model, p, messages = predictor(stride=32, short=180)
    labels, conf = p.predict_confidence(_image(3, 4000))
    assert labels.shape == conf.shape == (3, 4000)
    assert model.sizes == [(32, MAX_STRIP_SIDE)]  # squeezed along its length, padded to the stride
    assert "4000x3" in messages[0] and "60x" in messages[0]


def test_padding_a_short_side_gives_the_pixels_own_labels():
    """Mirror padding for the network, cropped away after: a pointwise network then gives each pixel
    exactly the labels it gives that pixel in a big enough image."""
    image = _image(5, 7)
    model, p, _ = predictor(stride=32, short=None, scale=1.0)
    labels, probs = p.predict(image, return_probs=True)
    assert model.sizes == [(32, 32)] and probs.shape == (3, 5, 7)
    big = np.zeros((40, 40, 3), np.uint8)
    big[:5, :7] = image
    assert np.array_equal(p.predict(big)[:5, :7], labels)


def test_strips_with_tta_and_in_a_batch():
    model, p, _ = predictor(stride=16, tta="flip+scales")
    assert p.predict(_image(2, 30000)).shape == (2, 30000)
    p.tta = None
    out = p.predict_batch([_image(4, 9, seed=i) for i in range(3)])
    assert [o.shape for o in out] == [(4, 9)] * 3
    assert all(min(s) >= 16 for s in model.sizes)


def test_predict_paths_reads_and_predicts_extreme_files(tmp_path):
    files = []
    for w, h in ((4000, 3), (1, 5000), (100000, 2)):
        files.append(tmp_path / f"strip_{w}x{h}.png")
        Image.fromarray(_image(h, w)).save(files[-1])
    _, p, _ = predictor()
    got = {path.name: (labels, error) for path, labels, error in p.predict_paths(files, confidence=True)}
    for f in files:
        (labels, conf), error = got[f.name]
        w, h = map(int, f.stem.split("_")[1].split("x"))
        assert error is None and labels.shape == conf.shape == (h, w)


def test_upscaling_is_capped_and_downscaling_is_not():
    assert bounded_factor(4000, 3, 60.0) == (pytest.approx(MAX_UPSCALED_SIDE / 4000), True)
    assert bounded_factor(6000, 4000, 0.045) == (0.045, False)  # big photos still go down to the card's scale
    assert bounded_factor(20000, 100, 1.0) == (1.0, False)  # never below the image's own size by the cap
    assert bounded_factor(960, 720, 2.0) == (2.0, False)
    assert working_dims(100000, 2, 90.0, 32) == (1.0, (MAX_STRIP_SIDE, 2), True)
    assert working_dims(480, 360, 0.5, 32) == (0.5, (240, 180), False)
    assert pad_to(np.zeros((1, 3, 3), np.uint8), 4).shape == (4, 4, 3)


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf"), 1e9, 0.001, True])
def test_absurd_scales_are_refused_by_the_predictor(scale):
    with pytest.raises(ModelError, match="scale must be a number from 0.01 to 8"):
        predictor(scale=scale)
    _, p, _ = predictor()
    with pytest.raises(ModelError, match="scale must be a positive number"):
        p.predict(_image(8, 8), scale=float("nan") if scale != -1 else -1.0)
