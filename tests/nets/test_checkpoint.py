"""segstudio checkpoints: safetensors + JSON card round trip, validation messages, model lookup."""

import json

import pytest
import torch

from segstudio.core.labels import LabelSet, preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import (
    CAFFE_INPUT, ModelInfo, card_labelset, default_model, find_models, load_checkpoint, make_card,
    read_card, resolve_model, save_checkpoint, unreadable_models, validate_card,
)
from segstudio.nets.errors import ModelError, ModelNotFound


@pytest.fixture
def model_dirs(tmp_path, monkeypatch):
    shipped, home = tmp_path / "shipped", tmp_path / "home"
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(shipped))
    monkeypatch.setenv("SEGSTUDIO_HOME", str(home))
    return shipped, home / "models"


def _tiny(arch="segnet-basic", labelset=None, width=0.125, **options):
    labelset = labelset or preset("camvid")
    torch.manual_seed(0)
    model = build_model(arch, labelset.num_classes, width=width, **options)
    # non-trivial BN statistics so they must survive the round trip too
    for name, buf in model.named_buffers():
        if "running" in name:
            buf.uniform_(0.5, 1.5)
    return model, make_card(arch, width, labelset, **({"arch_options": options} if options else {}))


def test_card_has_the_contract_fields():
    card = make_card("segnet", 0.5, preset("voc"), input_norm=CAFFE_INPUT, training={"epochs": 3},
                     metrics={"mean_iou": 0.5}, description="x")
    assert card["format"] == "segstudio.model" and card["format_version"] == 1
    assert card["arch"] == "segnet" and card["width"] == 0.5 and card["num_classes"] == 21
    assert card["arch_options"] == {} and card["training"] == {"epochs": 3}
    assert card["metrics"] == {"mean_iou": 0.5} and card["description"] == "x"
    assert card["input"]["channel_order"] == "BGR" and len(card["input"]["mean"]) == 3
    assert card_labelset(card) == preset("voc")
    json.dumps(card)  # plain JSON


@pytest.mark.parametrize("half", [False, True])
def test_round_trip_restores_weights_and_card(tmp_path, half):
    model, card = _tiny()
    card["training"] = {"dataset": "camvid", "epochs": 2}
    path = save_checkpoint(tmp_path / "sub" / "my-model", model, card, half=half)
    assert path == tmp_path / "sub" / "my-model.safetensors"
    assert path.with_suffix(".json").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk["name"] == "my-model" and on_disk["training"]["epochs"] == 2
    loaded, card2 = load_checkpoint(path)
    assert not loaded.training and card2["name"] == "my-model"
    assert card_labelset(card2) == preset("camvid")
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and b.dtype == a.dtype  # fp16 on disk comes back as fp32
        if half and a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)
        else:
            assert torch.equal(a, b)
    x = torch.rand(1, 3, 37, 41)
    with torch.no_grad():
        ref, out = model.eval()(x), loaded(x)
    assert torch.allclose(ref, out, atol=0 if not half else 0.5)
    if not half:
        assert torch.equal(ref, out)


def test_half_checkpoint_is_about_half_the_size(tmp_path):
    model, card = _tiny("segnet", width=0.25)
    full = save_checkpoint(tmp_path / "full", model, card).stat().st_size
    half = save_checkpoint(tmp_path / "half.safetensors", model, card, half=True).stat().st_size
    assert half < 0.55 * full


def test_fcn_options_survive_the_round_trip(tmp_path):
    model, card = _tiny("fcn8s", preset("voc"), 0.0625, at_once=True)
    path = save_checkpoint(tmp_path / "fcn", model, card)
    loaded, card2 = load_checkpoint(path)
    assert loaded.at_once and card2["arch_options"] == {"at_once": True}


def test_card_mismatches_are_named(tmp_path):
    model, card = _tiny()
    bad = dict(card, num_classes=12)
    with pytest.raises(ModelError, match="num_classes is 12 but the label set has 11 classes"):
        validate_card(bad)
    with pytest.raises(ModelError, match="unknown architecture 'deeplab'"):
        validate_card(dict(card, arch="deeplab"))
    with pytest.raises(ModelError, match="format_version 2"):
        validate_card(dict(card, format_version=2))
    with pytest.raises(ModelError, match="channel_order"):
        validate_card(dict(card, input=dict(card["input"], channel_order="RGBA")))
    voc_card = make_card("segnet-basic", 0.125, preset("voc"))
    with pytest.raises(ModelError, match="label set has 21 classes but the model predicts 11"):
        save_checkpoint(tmp_path / "x", model, voc_card)


def test_weights_that_do_not_fit_the_card_say_which_tensors(tmp_path):
    model, card = _tiny(width=0.125)
    path = save_checkpoint(tmp_path / "m", model, card)
    card_file = path.with_suffix(".json")
    card_file.write_text(json.dumps(dict(json.loads(card_file.read_text()), width=0.25)))
    with pytest.raises(ModelError, match=r"shape mismatch: conv1\.weight \(8, 3, 7, 7\) \(model needs \(16, 3, 7, 7\)\)"):
        load_checkpoint(path)
    card_file.write_text(json.dumps(dict(json.loads(card_file.read_text()), width=0.125, arch="segnet")))
    with pytest.raises(ModelError, match=r"missing: conv1_1\.weight.*unexpected: "):
        load_checkpoint(path)


def test_card_is_also_embedded_in_the_weights(tmp_path):
    model, card = _tiny()
    path = save_checkpoint(tmp_path / "m", model, card)
    path.with_suffix(".json").unlink()
    assert read_card(path)["arch"] == "segnet-basic"
    assert load_checkpoint(path)[1]["name"] == "m"


def test_broken_card_is_reported_with_its_file(tmp_path):
    model, card = _tiny()
    path = save_checkpoint(tmp_path / "m", model, card)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match=r"m\.json: cannot read the model card"):
        read_card(path)


def test_find_and_resolve_models_by_name(model_dirs):
    shipped, user = model_dirs
    assert find_models() == [] and default_model() is None
    with pytest.raises(ModelNotFound, match="no model named 'fcn8s-lite0-camvid'; available: none"):
        resolve_model("fcn8s-lite0-camvid")
    model, card = _tiny()
    save_checkpoint(shipped / "aaa-first", model, card)
    save_checkpoint(shipped / "fcn8s-lite0-camvid", model, card)
    mine = make_card("segnet-basic", 0.125, preset("camvid"), description="mine")
    save_checkpoint(user / "aaa-first", model, mine)
    save_checkpoint(user / "other", model, card)
    (user / "junk.safetensors").write_bytes(b"not a model")
    models = find_models()
    assert all(isinstance(m, ModelInfo) for m in models)
    names = [m.name for m in models]
    assert sorted(names) == ["aaa-first", "fcn8s-lite0-camvid", "other"]
    first = next(m for m in models if m.name == "aaa-first")
    assert first.card.get("description") == "mine" and first.source == "user"  # user overrides shipped
    assert default_model().name == "fcn8s-lite0-camvid"
    assert resolve_model("other") == user / "other.safetensors"
    assert resolve_model(str(user / "other.json")) == user / "other.safetensors"
    with pytest.raises(ModelNotFound, match="no model named 'nope'; available: .*aaa-first.*other"):
        resolve_model("nope")
    with pytest.raises(ModelNotFound, match="no such checkpoint file"):
        resolve_model(str(user / "missing.safetensors"))
    assert [p.name for p, _ in unreadable_models()] == ["junk.safetensors"]
    loaded, card2 = load_checkpoint("fcn8s-lite0-camvid")
    assert card2["name"] == "fcn8s-lite0-camvid"


def test_default_model_falls_back_to_any_model(model_dirs):
    shipped, _ = model_dirs
    model, card = _tiny()
    save_checkpoint(shipped / "zzz", model, card)
    assert default_model().name == "zzz"


def test_custom_labelset_round_trip(tmp_path):
    ls = LabelSet(("bg", "cat", "dog"), ((0, 0, 0), (200, 10, 10), (10, 200, 10)), ignore_index=255, name="pets")
    model, card = _tiny("segnet-basic", ls)
    _, card2 = load_checkpoint(save_checkpoint(tmp_path / "pets", model, card))
    assert card_labelset(card2) == ls


def test_model_names_with_dots_keep_their_whole_name(model_dirs):
    shipped, _ = model_dirs
    model, card = _tiny()
    weights = save_checkpoint(shipped / "fcn8s-w0.3-camvid", model, card)
    assert weights.name == "fcn8s-w0.3-camvid.safetensors"
    assert (shipped / "fcn8s-w0.3-camvid.json").is_file()
    assert read_card(weights)["name"] == "fcn8s-w0.3-camvid"
    assert resolve_model("fcn8s-w0.3-camvid") == weights


def test_checkpoint_files_get_normal_permissions(tmp_path):
    import os

    from segstudio.core import atomic

    model, card = _tiny()
    weights = save_checkpoint(tmp_path / "perm", model, card)
    expected = 0o666 & ~atomic._UMASK
    assert weights.stat().st_mode & 0o777 == expected
    assert (tmp_path / "perm.json").stat().st_mode & 0o777 == expected
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
