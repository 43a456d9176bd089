"""Re-predicting a box at full resolution: the network sees the box's pixels one to one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from segstudio.core.labels import camvid
from segstudio.nets.card import make_card
from segstudio.nets.predictor import Predictor
from segstudio.nets.region_predict import context_crop, predict_box


class ColumnParity(nn.Module):
    """Class 1 on even input columns, class 2 on odd ones: any resampling of the input shows."""

    num_classes = 11
    output_stride = 1
    tile_overlap = 0

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[int, int]] = []

    def forward(self, x):
        n, _, h, w = x.shape
        self.seen.append((h, w))
        logits = torch.zeros(n, 11, h, w)
        odd = (torch.arange(w) % 2).bool()
        logits[:, 1, :, ~odd] = 5.0
        logits[:, 2, :, odd] = 5.0
        return logits


def predictor(resize):
    norm = {"channel_order": "RGB", "scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1], "resize": resize}
    return Predictor(ColumnParity(), make_card("fcn8s", 0.0625, camvid(), input_norm=norm), device="cpu",
                     tile_size=4096)


@pytest.mark.parametrize("resize", [1.0, 0.5])
def test_box_at_scale_one_is_predicted_at_full_resolution(resize):
    p = predictor(resize)
    img = np.zeros((300, 400, 3), np.uint8)
    box = (101, 50, 181, 120)
    labels = predict_box(p, img, box, scale=1.0)
    assert labels.shape == (70, 80)
    cx0 = context_crop(box, (300, 400))[0]
    cols = np.arange(box[0], box[2]) - cx0
    expected = np.where(cols % 2 == 1, 2, 1)
    assert (labels == expected[None, :]).all()  # column parity survives: no resampling of the box
    h, w = p.model.seen[-1]
    crop = context_crop(box, (300, 400))
    assert (h, w) == (crop[3] - crop[1], crop[2] - crop[0])


def test_box_is_predicted_at_the_scale_of_the_whole_image():
    """By default the crop is resized by the factor the whole image would be (the model's training scale)."""
    p = predictor(0.5)
    img = np.zeros((300, 400, 3), np.uint8)
    box = (101, 50, 181, 120)
    labels = predict_box(p, img, box)
    assert labels.shape == (70, 80)
    crop = context_crop(box, (300, 400))
    assert p.model.seen[-1] == (round((crop[3] - crop[1]) * 0.5), round((crop[2] - crop[0]) * 0.5))
    # Each network column covers two image columns: the parity pattern is gone at full resolution.
    assert not (labels == np.where((np.arange(box[0], box[2]) - crop[0]) % 2 == 1, 2, 1)[None, :]).all()


def test_context_crop_clips_and_grows_small_boxes():
    assert context_crop((0, 0, 10, 10), (300, 400)) == (0, 0, 74, 74)
    assert context_crop((390, 290, 400, 300), (300, 400)) == (326, 226, 400, 300)
    with pytest.raises(ValueError):
        predict_box(predictor(1.0), np.zeros((20, 20, 3), np.uint8), (5, 5, 5, 9))
