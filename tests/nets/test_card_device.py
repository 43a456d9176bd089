"""The model card's input transform and the one device policy (nets/card.py, nets/device.py)."""

import numpy as np
import pytest
import torch

from segstudio.core.labels import preset
from segstudio.nets.card import CAFFE_INPUT, IMAGENET_INPUT, InputTransform, make_card
from segstudio.nets.device import pick_device
from segstudio.nets.errors import ModelError

LS = preset("camvid")


def _pixels(seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (2, 3, 5, 7), dtype=np.uint8))


def test_imagenet_transform_is_scale_then_mean_then_std():
    t = InputTransform.from_card(make_card("segnet-basic", 0.125, LS))
    x = _pixels()
    got = t(x)
    mean = torch.tensor(IMAGENET_INPUT["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_INPUT["std"]).view(1, 3, 1, 1)
    assert got.dtype == torch.float32
    assert torch.allclose(got, (x.float() / 255 - mean) / std, atol=1e-6)
    assert t.resize == 1.0 and t.scaled_size(640, 480) == (640, 480)


def test_caffe_transform_flips_to_bgr_before_the_mean():
    t = InputTransform.from_card(make_card("fcn32s", 0.0625, LS, input_norm=CAFFE_INPUT))
    x = _pixels(1)
    mean_bgr = torch.tensor(CAFFE_INPUT["mean"]).view(1, 3, 1, 1)
    assert torch.allclose(t(x), x.float().flip(1) - mean_bgr, atol=1e-4)
    assert not torch.allclose(t(x), x.float() - mean_bgr, atol=1e-2)


def test_resize_factor_and_bad_input_sections_name_the_field():
    card = make_card("segnet-basic", 0.125, LS, input_norm={**IMAGENET_INPUT, "resize": 0.5})
    assert InputTransform.from_card(card).scaled_size(101, 60) == (50, 30)
    for bad, field in (({**IMAGENET_INPUT, "std": [1, 0, 1]}, "input.std"),
                       ({**IMAGENET_INPUT, "channel_order": "GRB"}, "input.channel_order"),
                       ({**IMAGENET_INPUT, "resize": 9}, "input.resize")):
        with pytest.raises(ModelError, match=field.replace(".", r"\.")):
            InputTransform.from_card({**card, "input": bad}, "m.json")


def test_device_policy():
    assert pick_device("cpu") == torch.device("cpu")
    auto = pick_device("auto")
    if torch.cuda.is_available():
        assert auto == torch.device("cuda:0") and pick_device("cuda", local_rank=0) == torch.device("cuda:0")
        with pytest.raises(ModelError, match="CUDA device"):
            pick_device(f"cuda:{torch.cuda.device_count()}")
    else:
        assert auto.type in ("cpu", "mps")
        with pytest.raises(ModelError, match="CUDA is not available"):
            pick_device("cuda:1")
    with pytest.raises(ModelError, match="unknown device"):
        pick_device("tpu9")
    with pytest.raises(ModelError, match="unsupported device"):
        pick_device("meta")
