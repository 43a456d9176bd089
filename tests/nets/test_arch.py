"""Architectures: reference parameter counts, shapes, initialisation, FCN alignment, SegNet unpooling."""

import math

import pytest
import torch
import torch.nn.functional as F

from segstudio.nets import ARCHS, ModelError, build_model, count_parameters
from segstudio.nets.layers import bilinear_kernel
from segstudio.nets.segnet import _pool, _unpool


@pytest.mark.parametrize("arch,k,expected", [
    ("fcn8s", 21, 134_489_759),
    ("fcn8s", 11, 134_348_929),
    ("segnet", 11, 29_449_355),
    ("segnet-basic", 11, 1_416_587),
])
def test_parameter_counts_match_the_references(arch, k, expected):
    with torch.device("meta"):  # no memory for the 134M-parameter FCN
        model = build_model(arch, k)
    assert count_parameters(model) == expected


def test_width_scales_every_conv_and_fc():
    m = build_model("fcn8s", 5, width=0.25)
    assert m.conv1_1.out_channels == 16 and m.conv5_3.out_channels == 128
    assert m.fc6.out_channels == 1024 and m.fc7.out_channels == 1024
    assert m.score_fr.out_channels == 5
    s = build_model("segnet", 7, width=0.1)
    assert s.conv1_1.out_channels == 8  # never below 8 channels
    assert s.conv5_3.out_channels == 51
    assert s.conv1_1_D.out_channels == 7
    b = build_model("segnet-basic", 3, width=0.5)
    assert b.conv1.out_channels == 32 and b.conv_classifier.out_channels == 3
    assert count_parameters(b) < count_parameters(build_model("segnet-basic", 3))


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("size", [(33, 47), (1, 1)])
def test_output_size_equals_input_size_for_odd_sizes(arch, size):
    model = build_model(arch, 4, width=0.125).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, *size))
    assert out.shape == (2, 4, *size)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["fcn8s", "segnet", "segnet-basic"])
def test_output_size_on_dataset_sizes(arch):
    model = build_model(arch, 3, width=0.0625).eval()
    with torch.inference_mode():
        for size in [(375, 500), (360, 480)]:
            assert model(torch.randn(1, 3, *size)).shape == (1, 3, *size)


def test_unknown_arch_and_option_are_errors_that_say_what():
    with pytest.raises(ModelError, match="unknown architecture 'unet'.*fcn8s"):
        build_model("unet", 3)
    with pytest.raises(ModelError, match="segnet has no option 'at_once'"):
        build_model("segnet", 3, at_once=True)
    with pytest.raises(ModelError, match="1..255"):
        build_model("segnet", 0)
    with pytest.raises(ModelError, match="width"):
        build_model("segnet", 3, width=0)


def test_fcn_initialisation_follows_the_reference():
    m = build_model("fcn8s", 6, width=0.25)
    for name in ("score_fr", "score_pool4", "score_pool3"):
        layer = getattr(m, name)
        assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(layer.bias) == 0
    for name, k in (("upscore2", 4), ("upscore_pool4", 4), ("upscore8", 16)):
        up = getattr(m, name)
        assert not up.weight.requires_grad  # fixed, as in the reference
        assert torch.equal(up.weight, bilinear_kernel(6, k))
        # diagonal: class c upsamples into class c only
        assert torch.count_nonzero(up.weight[0, 1]) == 0 and torch.count_nonzero(up.weight[2, 2]) > 0
    # He init: std = sqrt(2 / fan_in)
    w = m.conv3_2.weight
    fan_in = w.shape[1] * 9
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert build_model("fcn8s", 6, width=0.25, learn_upsampling=True).upscore8.weight.requires_grad


def test_bilinear_kernel_matches_caffe_filler():
    k = bilinear_kernel(1, 4)[0, 0]
    row = torch.tensor([0.25, 0.75, 0.75, 0.25])
    assert torch.allclose(k, row[:, None] * row[None, :])


def _blob_centre(channel: torch.Tensor) -> tuple[float, float]:
    ys, xs = torch.meshgrid(torch.arange(channel.shape[0], dtype=torch.float64),
                            torch.arange(channel.shape[1], dtype=torch.float64), indexing="ij")
    w = channel.double()
    assert w.min() >= -1e-6 and w.sum() > 0
    return float((w * ys).sum() / w.sum()), float((w * xs).sum() / w.sum())


def _impulse_centre(model, layer_name, pos, size=(200, 232)):
    """Replace `layer_name`'s output by a single 1 at `pos` (class 0), zero all else; where does it land?"""
    def hook(mod, inp, out):
        z = torch.zeros_like(out)
        if mod is getattr(model, layer_name):
            z[0, 0, pos[0], pos[1]] = 1.0
        return z

    handles = [getattr(model, n).register_forward_hook(hook)
               for n in ("score_fr", "score_pool4", "score_pool3") if hasattr(model, n)]
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(1, 3, *size))
    finally:
        for h in handles:
            h.remove()
    assert out.shape[-2:] == size
    assert torch.count_nonzero(out[0, 1:]) == 0
    return _blob_centre(out[0, 0])


# Where a pixel of each layer is centred in input coordinates, from the layer geometry alone:
# conv1_1 (3x3, pad 100) centres output u at input u - 99; later 3x3 pad-1 convs keep alignment;
# a 2x2/2 pool centres output v at 2v + 0.5 of its input. Hence pool3 pixel t is at
# 8t + 3.5 - 99, pool4 pixel p at 16p + 7.5 - 99, pool5 pixel r at 32r + 15.5 - 99, and fc6
# (7x7, no pad) pixel s at pool5 s + 3, i.e. 32(s + 3) + 15.5 - 99.
def _expected(layer, i):
    return {"score_pool3": 8 * i + 3.5 - 99, "score_pool4": 16 * i + 7.5 - 99,
            "score_fr": 32 * (i + 3) + 15.5 - 99}[layer]


@pytest.mark.parametrize("layer,pos", [("score_pool4", (12, 9)), ("score_pool3", (20, 17)),
                                       ("score_fr", (3, 4))])
def test_fcn8s_skip_layers_land_where_coordinate_arithmetic_says(layer, pos):
    model = build_model("fcn8s", 3, width=0.0625)
    cy, cx = _impulse_centre(model, layer, pos)
    assert cy == pytest.approx(_expected(layer, pos[0]), abs=1e-3)
    assert cx == pytest.approx(_expected(layer, pos[1]), abs=1e-3)


@pytest.mark.parametrize("arch", ["fcn16s", "fcn32s"])
def test_fcn16s_fcn32s_scores_land_where_coordinate_arithmetic_says(arch):
    model = build_model(arch, 3, width=0.0625)
    cy, cx = _impulse_centre(model, "score_fr", (3, 4))
    assert (cy, cx) == pytest.approx((_expected("score_fr", 3), _expected("score_fr", 4)), abs=1e-3)
    if arch == "fcn16s":
        cy, cx = _impulse_centre(model, "score_pool4", (12, 9))
        assert (cy, cx) == pytest.approx((_expected("score_pool4", 12), _expected("score_pool4", 9)), abs=1e-3)


def test_fcn8s_at_once_scales_the_skips():
    torch.manual_seed(0)
    plain = build_model("fcn8s", 3, width=0.0625).eval()
    at_once = build_model("fcn8s", 3, width=0.0625, at_once=True).eval()
    at_once.load_state_dict(plain.state_dict())
    captured = {}
    for name in ("score_pool4", "score_pool3"):
        for tag, m in (("plain", plain), ("at_once", at_once)):
            getattr(m, name).register_forward_pre_hook(
                lambda mod, inp, name=name, tag=tag: captured.__setitem__((tag, name), inp[0].clone()))
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        plain(x), at_once(x)
    assert torch.allclose(captured["at_once", "score_pool4"], captured["plain", "score_pool4"] * 0.01)
    assert torch.allclose(captured["at_once", "score_pool3"], captured["plain", "score_pool3"] * 1e-4)


def test_unpooling_puts_values_back_at_the_pooled_positions():
    x = torch.rand(2, 3, 7, 9) + 0.1  # positive, so every kept value is non-zero; odd: partial windows
    pooled, idx, size = _pool(x)
    assert pooled.shape[-2:] == (4, 5)
    up = _unpool(pooled, idx, size)
    assert up.shape == x.shape
    nz = up != 0
    assert nz.sum() == pooled.numel()
    assert torch.equal(up[nz], x[nz])  # every kept value is at its original position
    for n in range(2):
        for c in range(3):
            for i in range(4):
                for j in range(5):
                    win = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    back = up[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    assert back.max() == win.max() and torch.count_nonzero(back) == 1
                    assert back.argmax() == win.argmax()


@pytest.mark.parametrize("arch,enc,dec", [("segnet-basic", "conv4_bn", "conv_decode4"),
                                           ("segnet", "conv5_3_bn", "conv5_3_D")])
def test_segnet_decoder_unpools_with_the_encoder_indices(arch, enc, dec):
    model = build_model(arch, 3, width=0.125).eval()
    seen = {}
    getattr(model, enc).register_forward_hook(lambda m, i, o: seen.__setitem__("enc", o.clone()))
    getattr(model, dec).register_forward_pre_hook(lambda m, i: seen.__setitem__("dec", i[0].clone()))
    with torch.no_grad():
        model(torch.randn(1, 3, 45, 61))
    act = F.relu(seen["enc"])
    pooled, idx = F.max_pool2d(act, 2, 2, ceil_mode=True, return_indices=True)
    expected = F.max_unpool2d(pooled, idx, 2, 2, output_size=act.shape[-2:])
    assert torch.equal(seen["dec"], expected)
    assert torch.count_nonzero(seen["dec"]) <= pooled.numel()
