"""Importing torchvision VGG16 / VGG16-BN and torchfcn (Caffe-key) FCN state dicts; partial loading."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import CAFFE_INPUT, IMAGENET_INPUT, card_labelset, load_checkpoint
from segstudio.nets.errors import ModelError
from segstudio.nets.layers import scaled
from segstudio.nets.weights import convert_state_dict, import_weights, load_partial

VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class TorchvisionVGG(nn.Module):
    """torchvision's VGG16 / VGG16-BN layout (features / classifier Sequentials, same indices).

    `first_pad=100, ceil=True` turn it into FCN's backbone geometry without changing any key.
    """

    def __init__(self, width=1.0, bn=False, first_pad=1, ceil=False):
        super().__init__()
        layers, c = [], 3
        for v in VGG_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil))
            else:
                v = scaled(v, width)
                layers.append(nn.Conv2d(c, v, 3, padding=first_pad if not layers else 1))
                layers += [nn.BatchNorm2d(v), nn.ReLU()] if bn else [nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        fc = scaled(4096, width)
        self.classifier = nn.Sequential(nn.Linear(c * 49, fc), nn.ReLU(), nn.Dropout(),
                                        nn.Linear(fc, fc), nn.ReLU(), nn.Dropout(), nn.Linear(fc, 1000))
        for m in self.modules():  # random everything, including BN statistics
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.5, 0.5)
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.uniform_(m.bias, -0.1, 0.1)


def _meta_vgg16_state(bn: bool) -> dict:
    """The exact keys and shapes of torchvision's vgg16 / vgg16_bn state dicts, without memory."""
    with torch.device("meta"):
        return TorchvisionVGG(bn=bn).state_dict()


def test_torchvision_vgg16_keys_and_shapes_fill_the_whole_fcn_backbone():
    state = _meta_vgg16_state(bn=False)
    assert state["features.28.weight"].shape == (512, 512, 3, 3)
    assert state["classifier.0.weight"].shape == (4096, 25088)
    with torch.device("meta"):
        model = build_model("fcn8s", 21)
    report, info = import_weights(model, state)
    backbone = [k for k in model.state_dict() if k.startswith(("conv", "fc"))]
    assert sorted(report.loaded) == sorted(backbone) and len(backbone) == 30
    assert sorted(report.skipped) == ["classifier.6.bias", "classifier.6.weight"]
    assert set(report.reinitialised) == {k for k in model.state_dict() if not k.startswith(("conv", "fc"))}
    assert info.kind == "torchvision-vgg16" and info.input_norm == IMAGENET_INPUT
    assert model.fc6.weight.shape == (4096, 512, 7, 7)


def test_torchvision_vgg16_bn_keys_and_shapes_fill_the_whole_segnet_encoder():
    state = _meta_vgg16_state(bn=True)
    assert "features.40.weight" in state and "features.41.running_var" in state
    with torch.device("meta"):
        model = build_model("segnet", 11)
    report, info = import_weights(model, state)
    encoder = [k for k in model.state_dict() if not k.split(".")[0].endswith(("_D", "_D_bn"))]
    assert sorted(report.loaded) == sorted(encoder)
    assert len(encoder) == 13 * 2 + 13 * 5
    assert all(k.split(".")[0].endswith(("_D", "_D_bn")) for k in report.reinitialised)
    assert info.kind == "torchvision-vgg16-bn"


def _fcn_fc7(model, x):
    with torch.no_grad():
        return model.eval().encode(x)[2]


def test_vgg16_tensors_land_in_the_right_fcn_layers():
    torch.manual_seed(1)
    ref = TorchvisionVGG(width=0.125, first_pad=100, ceil=True).eval()
    model = build_model("fcn8s", 5, width=0.125)
    import_weights(model, ref.state_dict())
    x = torch.rand(2, 3, 24, 24)  # with pad 100, pool5 is exactly 7x7: fc6 sees what classifier.0 sees
    with torch.no_grad():
        expected = ref.classifier[:5](torch.flatten(ref.features(x), 1))
    got = _fcn_fc7(model, x)
    assert got.shape == (2, expected.shape[1], 1, 1)
    assert torch.allclose(got[:, :, 0, 0], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_vgg16_bn_folds_into_fcn_and_loads_into_segnet():
    torch.manual_seed(2)
    ref_fcn = TorchvisionVGG(width=0.125, bn=True, first_pad=100, ceil=True).eval()
    fcn = build_model("fcn32s", 5, width=0.125)
    import_weights(fcn, ref_fcn.state_dict())
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        expected = ref_fcn.classifier[:5](torch.flatten(ref_fcn.features(x), 1))
    assert torch.allclose(_fcn_fc7(fcn, x)[:, :, 0, 0], expected, rtol=1e-3, atol=1e-4)

    ref = TorchvisionVGG(width=0.125, bn=True, ceil=True).eval()
    segnet = build_model("segnet", 5, width=0.125).eval()
    report, _ = import_weights(segnet, ref.state_dict())
    assert "conv3_2_bn.running_var" in report.loaded
    seen = {}
    segnet.conv5_3_bn.register_forward_hook(lambda m, i, o: seen.__setitem__("bn", o))
    x = torch.rand(1, 3, 67, 45)
    with torch.no_grad():
        segnet(x)
        expected = ref.features(x)
    assert torch.allclose(F.max_pool2d(F.relu(seen["bn"]), 2, 2, ceil_mode=True), expected, atol=1e-5)


def test_vgg16_without_bn_into_segnet_reinitialises_the_bns():
    ref = TorchvisionVGG(width=0.125)
    segnet = build_model("segnet", 3, width=0.125)
    segnet.conv1_1_bn.weight.data.fill_(7.0)
    report, _ = import_weights(segnet, ref.state_dict())
    assert "conv1_1.weight" in report.loaded and "conv1_1_bn.weight" in report.reinitialised
    assert torch.equal(segnet.conv1_1.weight, ref.features[0].weight)
    assert torch.equal(segnet.conv5_3.weight, ref.features[28].weight)
    assert torch.all(segnet.conv1_1_bn.weight == 1.0)  # really re-initialised


def test_vgg_weights_do_not_fit_segnet_basic():
    with pytest.raises(ModelError, match="not segnet-basic"):
        convert_state_dict(TorchvisionVGG(width=0.125).state_dict(), "segnet-basic")


class TorchfcnFCN(nn.Module):
    """torchfcn's FCN32s / FCN16s / FCN8s, written the way torchfcn writes them (Caffe key names)."""

    def __init__(self, variant, n_class=21, width=1.0):
        super().__init__()
        s = lambda c: scaled(c, width)  # noqa: E731
        chans = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
                 (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
        names = ["1_1", "1_2", "2_1", "2_2", "3_1", "3_2", "3_3", "4_1", "4_2", "4_3", "5_1", "5_2", "5_3"]
        for n, (i, o) in zip(names, chans):
            setattr(self, "conv" + n, nn.Conv2d(3 if i == 3 else s(i), s(o), 3, padding=100 if n == "1_1" else 1))
        self.names = names
        self.fc6 = nn.Conv2d(s(512), s(4096), 7)
        self.fc7 = nn.Conv2d(s(4096), s(4096), 1)
        self.score_fr = nn.Conv2d(s(4096), n_class, 1)
        self.variant = variant
        if variant == 32:
            self.upscore = nn.ConvTranspose2d(n_class, n_class, 64, stride=32, bias=False)
        else:
            self.score_pool4 = nn.Conv2d(s(512), n_class, 1)
            self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
        if variant == 16:
            self.upscore16 = nn.ConvTranspose2d(n_class, n_class, 32, stride=16, bias=False)
        if variant == 8:
            self.score_pool3 = nn.Conv2d(s(256), n_class, 1)
            self.upscore_pool4 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
            self.upscore8 = nn.ConvTranspose2d(n_class, n_class, 16, stride=8, bias=False)
        for p in self.parameters():  # random, so that every misplaced tensor shows
            nn.init.normal_(p, 0, 0.05)

    def forward(self, x):
        h = x
        for n in self.names:
            h = F.relu(getattr(self, "conv" + n)(h))
            if n in ("1_2", "2_2", "3_3", "4_3", "5_3"):
                h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
                if n == "3_3":
                    pool3 = h
                if n == "4_3":
                    pool4 = h
        h = F.relu(self.fc7(F.relu(self.fc6(h))))
        h = self.score_fr(h)
        if self.variant == 32:
            h = self.upscore(h)
            return h[:, :, 19:19 + x.size()[2], 19:19 + x.size()[3]]
        h = self.upscore2(h)
        upscore2 = h
        h = self.score_pool4(pool4)
        h = h[:, :, 5:5 + upscore2.size()[2], 5:5 + upscore2.size()[3]]
        h = upscore2 + h
        if self.variant == 16:
            h = self.upscore16(h)
            return h[:, :, 27:27 + x.size()[2], 27:27 + x.size()[3]]
        h = self.upscore_pool4(h)
        upscore_pool4 = h
        h = self.score_pool3(pool3)
        h = h[:, :, 9:9 + upscore_pool4.size()[2], 9:9 + upscore_pool4.size()[3]]
        h = upscore_pool4 + h
        h = self.upscore8(h)
        return h[:, :, 31:31 + x.size()[2], 31:31 + x.size()[3]]


def test_torchfcn_fcn8s_keys_and_shapes():
    with torch.device("meta"):
        state = TorchfcnFCN(8).state_dict()
        model = build_model("fcn8s", 21)
    expected = {"fc6.weight": (4096, 512, 7, 7), "fc7.weight": (4096, 4096, 1, 1),
                "score_fr.weight": (21, 4096, 1, 1), "score_pool3.weight": (21, 256, 1, 1),
                "score_pool4.weight": (21, 512, 1, 1), "upscore2.weight": (21, 21, 4, 4),
                "upscore8.weight": (21, 21, 16, 16), "upscore_pool4.weight": (21, 21, 4, 4)}
    for k, shape in expected.items():
        assert tuple(state[k].shape) == shape
    assert "upscore8.bias" not in state
    report = load_partial(model, state)
    assert report.skipped == [] and report.reinitialised == [] and len(report.loaded) == len(state)


@pytest.mark.parametrize("variant", [8, 16, 32])
def test_torchfcn_checkpoint_loads_and_predicts_like_the_reference(tmp_path, variant):
    torch.manual_seed(variant)
    ref = TorchfcnFCN(variant, width=0.0625).eval()
    path = tmp_path / f"fcn{variant}s_from_caffe.pth"
    torch.save(ref.state_dict(), path)
    model, card = load_checkpoint(path)
    assert card["arch"] == f"fcn{variant}s" and card["width"] == 0.0625
    assert card["input"] == CAFFE_INPUT and card["num_classes"] == 21
    assert card_labelset(card).names[15] == "person"
    x = torch.randn(1, 3, 37, 53) * 50
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), rtol=1e-4, atol=1e-5)


def test_torchfcn_training_checkpoint_wrapper_and_at_once_name(tmp_path):
    ref = TorchfcnFCN(8, n_class=5, width=0.0625)
    path = tmp_path / "fcn8s-atonce_from_caffe.pth"
    torch.save({"epoch": 3, "model_state_dict": ref.state_dict()}, path)
    model, card = load_checkpoint(path)
    assert model.at_once and card["num_classes"] == 5 and card_labelset(card).names[0] == "class_0"


def test_unknown_pth_without_card_is_a_clear_error(tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"layer.weight": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="no model card .*mystery.json.*not a recognised FCN"):
        load_checkpoint(path)


def test_partial_loading_for_another_class_count():
    torch.manual_seed(3)
    old = build_model("fcn8s", 11, width=0.0625)
    for p in old.parameters():
        nn.init.normal_(p)
    new = build_model("fcn8s", 4, width=0.0625)
    new.score_fr.weight.data.fill_(1.0)  # must be re-initialised (to zero) by the load
    report = load_partial(new, old.state_dict())
    heads = {"score_fr.weight", "score_fr.bias", "score_pool4.weight", "score_pool4.bias",
             "score_pool3.weight", "score_pool3.bias", "upscore2.weight", "upscore_pool4.weight",
             "upscore8.weight"}
    assert set(report.reinitialised) == heads and set(report.skipped) == heads
    assert report.reasons["score_fr.weight"] == "shape (11, 256, 1, 1), the model needs (4, 256, 1, 1)"
    assert len(report.loaded) == len(new.state_dict()) - len(heads)
    for k in report.loaded:
        assert torch.equal(new.state_dict()[k], old.state_dict()[k])
    assert torch.count_nonzero(new.score_fr.weight) == 0
    assert torch.equal(new.upscore8.weight, build_model("fcn8s", 4, width=0.0625).upscore8.weight)
    assert "re-initialised: score_fr.weight" in report.summary()

    seg_old, seg_new = build_model("segnet-basic", 11, 0.125), build_model("segnet-basic", 3, 0.125)
    report = load_partial(seg_new, seg_old.state_dict())
    assert report.reinitialised == ["conv_classifier.weight", "conv_classifier.bias"]
    extra = load_partial(seg_new, {"not.a.layer": torch.zeros(1)})
    assert extra.skipped == ["not.a.layer"] and extra.reasons["not.a.layer"] == "no such layer in the model"


def test_card_of_imported_caffe_fcn_uses_voc_for_21_classes(tmp_path):
    path = tmp_path / "fcn32s_from_caffe.pth"
    torch.save(TorchfcnFCN(32, width=0.0625).state_dict(), path)
    _, card = load_checkpoint(path)
    assert card["labelset"] == preset("voc").to_dict()
