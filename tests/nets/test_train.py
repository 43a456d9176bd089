"""The trainer on a tiny synthetic data set written to tmp_path: learning, resume,
cancellation, time budget, fine-tuning to a new label set, the loss and LR schedules."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from segstudio.core.labels import LabelSet
from segstudio.nets.checkpoint import load_checkpoint, read_card
from segstudio.nets.train_config import ConfigError, TrainConfig, load_recipe
from segstudio.nets.train_loss import segmentation_loss
from segstudio.nets.train_optim import lr_at
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset
from segstudio.nets.train_checkpoints import resume_recipe
from segstudio.nets.trainer import Trainer, train


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = write_shapes_dataset(tmp_path_factory.mktemp("shapes"), n_train=16, n_val=4, size=(64, 48))
    SHAPES_LABELSET.save(root / "labels.json")
    return root


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = write_shapes_dataset(tmp_path_factory.mktemp("small"), n_train=6, n_val=2, size=(32, 24), seed=3)
    SHAPES_LABELSET.save(root / "labels.json")
    return root


def config(root, out, **kw) -> TrainConfig:
    base = dict(arch="segnet-basic", width=0.125, images=str(root / "images"), masks=str(root / "masks"),
                train_list=str(root / "train.txt"), val_list=str(root / "val.txt"),
                labels=str(root / "labels.json"), out=str(out), epochs=2, batch_size=2, lr=0.05,
                weight_decay=1e-4, seed=0, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_small_segnet_basic_learns_shapes_well_above_chance(shapes, tmp_path):
    events = []
    cfg = config(shapes, tmp_path, width=0.25, epochs=10, optimizer="adamw", lr=0.003, lr_schedule="constant")
    result = train(cfg, progress=events.append)
    assert result.stopped == "finished" and result.epochs_done == 10
    # Chance: everything predicted as the majority class (background).
    from segstudio.core.imageio import read_label_png
    gt = np.concatenate([read_label_png(p).ravel() for p in sorted((shapes / "masks").glob("val_*.png"))])
    gt = gt[gt < 3]
    majority = np.bincount(gt).max() / gt.size
    chance_miou = majority / 3
    best = result.best_metrics
    assert best["mean_iou"] > max(0.65, 2 * chance_miou), best
    assert best["pixel_accuracy"] > majority + 0.05
    assert min(best["iou"]) > 0.5  # discs and squares are found, not only the background
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    # progress: steps with loss / lr / throughput / ETA, one epoch event per epoch with val figures
    steps = [e for e in events if e.kind == "step"]
    assert steps and all(e.loss is not None and e.lr > 0 and e.images_per_s > 0 and e.eta_s >= 0 for e in steps)
    assert steps[-1].eta_s < steps[0].eta_s
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == list(range(1, 11)) and all(e.val for e in epochs)
    assert events[-1].kind == "done"
    # the best checkpoint loads and its card is filled
    model, card = load_checkpoint(result.best_path)
    assert card["name"] == "segnet-basic-shapes" and card["arch"] == "segnet-basic" and card["width"] == 0.25
    assert card["metrics"]["mean_iou"] == pytest.approx(best["mean_iou"])
    assert set(card["metrics"]["per_class_iou"]) == {"background", "disc", "square"}
    t = card["training"]
    assert t["recipe"]["lr"] == 0.003 and t["data"]["train_images"] == 16 and t["data"]["val_images"] == 4
    assert t["hardware"]["device"] == "cpu" and t["wall_time_s"] > 0 and t["best_epoch"] >= 1
    assert len(t["history"]) == 10
    # train-log.jsonl and train-config.json
    log = [json.loads(line) for line in (tmp_path / "train-log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == list(range(1, 11))
    rerun = TrainConfig.from_dict(load_recipe(tmp_path / "train-config.json"))
    assert rerun == cfg


def test_the_best_checkpoint_predicts_with_the_predictor(small, tmp_path):
    result = train(config(small, tmp_path, epochs=1))
    from segstudio.core.imageio import load_image
    from segstudio.nets.predictor import Predictor

    p = Predictor.from_checkpoint(result.best_path, device="cpu")
    labels = p.predict(load_image(small / "images" / "val_000.png"))
    assert labels.shape == (24, 32) and labels.max() < 3


def _weights(path):
    model, _ = load_checkpoint(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_cancel_then_resume_continues_from_the_saved_epoch(small, tmp_path):
    # Uninterrupted 3 epochs...
    full = train(config(small, tmp_path / "full", epochs=3, lr_schedule="constant"))
    # ...versus cancelled after epoch 2, then resumed.
    cancel = threading.Event()

    def on_progress(p):
        if p.kind == "epoch" and p.epoch == 2:
            cancel.set()

    first = train(config(small, tmp_path / "run", epochs=3, lr_schedule="constant"), progress=on_progress,
                  cancel=cancel)
    assert first.stopped == "cancelled" and first.epochs_done == 2
    last = tmp_path / "run" / "segnet-basic-shapes-last.safetensors"
    assert read_card(last)["training"]["epochs"] == 2
    load_checkpoint(last)  # usable as it is

    events = []
    resumed_cfg = TrainConfig.from_dict(resume_recipe(last))
    second = Trainer(resumed_cfg, progress=events.append, resume=last).run()
    assert second.stopped == "finished" and second.epochs_done == 3
    assert [e.epoch for e in events if e.kind == "epoch"] == [3]
    assert [h["epoch"] for h in second.history] == [1, 2, 3]
    assert read_card(last)["training"]["epochs"] == 3
    a, b = _weights(full.last_path), _weights(second.last_path)
    for k in a:
        if k.endswith("num_batches_tracked"):
            continue
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_resume_from_the_output_folder_and_missing_state(small, tmp_path):
    train(config(small, tmp_path, epochs=1))
    t = Trainer(config(small, tmp_path, epochs=2), resume=tmp_path)
    assert t.resume_path == tmp_path / "segnet-basic-shapes-last.safetensors"
    (tmp_path / "segnet-basic-shapes-last.state.pt").unlink()
    from segstudio.nets.trainer import TrainingError

    with pytest.raises(TrainingError, match="no training state"):
        Trainer(config(small, tmp_path, epochs=2), resume=tmp_path / "segnet-basic-shapes-last.safetensors").run()


def test_cancel_mid_epoch_leaves_a_usable_checkpoint(small, tmp_path):
    cancel = threading.Event()

    def on_progress(p):
        if p.kind == "step" and p.step == 2:
            cancel.set()

    result = train(config(small, tmp_path, epochs=5), progress=on_progress, cancel=cancel)
    assert result.stopped == "cancelled" and result.epochs_done == 0
    model, card = load_checkpoint(result.last_path)
    assert card["training"]["epochs"] == 0
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 24, 32)).shape == (1, 3, 24, 32)


def test_time_budget_ends_cleanly_with_a_checkpoint(small, tmp_path):
    result = train(config(small, tmp_path, epochs=50, max_minutes=1e-4))
    assert result.stopped == "time budget" and result.epochs_done < 50
    load_checkpoint(result.last_path)
    assert result.best_path is not None and result.best_path.is_file()  # final evaluation still ran


def test_no_validation_writes_one_checkpoint(small, tmp_path):
    result = train(config(small, tmp_path, val_list=None, epochs=1))
    assert result.best_path == result.last_path == tmp_path / "segnet-basic-shapes.safetensors"
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["segnet-basic-shapes.safetensors"]


def test_fine_tune_to_a_new_label_set(small, tmp_path):
    src = train(config(small, tmp_path / "src", epochs=1, class_weights="median-freq"))
    assert read_card(src.best_path)["training"]["data"]["class_weights"][0] > 0
    two = LabelSet(("background", "disc"), ((0, 0, 0), (255, 0, 0)), name="two")
    two.save(tmp_path / "two.json")
    cfg = config(small, tmp_path / "ft", arch=None, width=None, init=str(src.best_path),
                 labels=str(tmp_path / "two.json"), epochs=1)
    trainer = Trainer(cfg)
    result = trainer.run()
    rep = trainer.init_report
    assert sorted(rep.reinitialised) == ["conv_classifier.bias", "conv_classifier.weight"]
    assert "conv1.weight" in rep.loaded
    model, card = load_checkpoint(result.last_path)
    assert card["arch"] == "segnet-basic" and card["width"] == 0.125 and card["num_classes"] == 2
    assert card["labelset"]["name"] == "two" and card["training"]["init"] == src.best_path.name


def test_weighted_loss_normalisations_by_hand():
    logits = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]])  # N=1, K=2, H=1, W=3
    target = torch.tensor([[[0, 1, 255]]])
    w = torch.tensor([1.0, 3.0])
    nll0 = -torch.log_softmax(torch.tensor([2.0, 0.0]), 0)[0]
    nll1 = -torch.log_softmax(torch.tensor([0.0, 1.0]), 0)[1]
    weighted_sum = 1.0 * nll0 + 3.0 * nll1
    assert segmentation_loss(logits, target, w, "valid") == pytest.approx(float(weighted_sum / 2))
    assert segmentation_loss(logits, target, w, "mean") == pytest.approx(float(weighted_sum / 4))
    assert segmentation_loss(logits, target, None, "valid") == pytest.approx(float((nll0 + nll1) / 2))
    all_void = torch.full((1, 1, 3), 255)
    assert segmentation_loss(logits, all_void, w, "valid") == 0
    assert segmentation_loss(logits, all_void, w, "mean") == 0


def test_lr_schedules():
    c = TrainConfig(lr=0.1, epochs=4, lr_schedule="poly", poly_power=1.0)
    assert lr_at(c, 0, 0, 10) == pytest.approx(0.1)
    assert lr_at(c, 2, 0, 10) == pytest.approx(0.05)
    assert lr_at(c, 3, 9, 10) == pytest.approx(0.1 / 40)
    s = TrainConfig(lr=0.1, lr_schedule="step", step_size=2, step_gamma=0.5)
    assert [lr_at(s, e, 0, 10) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert lr_at(TrainConfig(lr=0.3, lr_schedule="constant"), 7, 3, 10) == 0.3


def test_recipes_load_and_unknown_keys_are_named(tmp_path):
    from segstudio import paths

    for name in ("segnet-basic-camvid.toml", "fcn8s-camvid.toml"):
        cfg = TrainConfig.from_dict(load_recipe(paths.REPO_DIR / "recipes" / name), name)
        assert cfg.labels == "camvid" and cfg.arch in ("segnet-basic", "fcn8s")
    seg = TrainConfig.from_dict(load_recipe(paths.REPO_DIR / "recipes" / "segnet-basic-camvid.toml"))
    assert (seg.lr, seg.momentum, seg.weight_decay, seg.class_weights) == (0.1, 0.9, 0.0005, "median-freq")
    bad = tmp_path / "bad.toml"
    bad.write_text('arch = "segnet-basic"\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match=r"bad.toml.*unknown setting.*learning_rate"):
        TrainConfig.from_dict(load_recipe(bad), str(bad))
    bad.write_text('optimizer = "adam"\n')
    with pytest.raises(ConfigError, match="optimizer must be one of"):
        TrainConfig.from_dict(load_recipe(bad), str(bad))


def test_bn_statistics_are_recomputed_as_the_training_set_average():
    from torch import nn

    from segstudio.nets.train_dist import DistContext

    t = Trainer(TrainConfig())
    t.ctx = DistContext()
    model = nn.Sequential(nn.BatchNorm2d(3))
    model[0].running_mean.fill_(7.0)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(0, 255, (2, 3, 4, 5), generator=g, dtype=torch.uint8), None, None) for _ in range(3)]
    assert t.recompute_bn(model, batches, lambda x: x.float())
    data = torch.cat([x for x, _, _ in batches]).float()
    torch.testing.assert_close(model[0].running_mean, data.mean(dim=(0, 2, 3)))
    assert model[0].momentum == 0.1 and not model.training
    assert not t.recompute_bn(nn.Sequential(nn.Conv2d(3, 3, 1)), batches, lambda x: x.float())  # no BN


def test_input_resize_in_the_card_follows_the_training_size(small, tmp_path):
    r = train(config(small, tmp_path / "a", epochs=1, size="16x12"))  # images are 32x24: half size
    assert read_card(r.best_path)["input"]["resize"] == 0.5
    r = train(config(small, tmp_path / "b", epochs=1, size="16x16"))  # another aspect ratio
    assert "resize" not in read_card(r.best_path)["input"]
    r = train(config(small, tmp_path / "c", epochs=1, scale=0.75))
    assert read_card(r.best_path)["input"]["resize"] == 0.75


def test_output_folder_that_is_an_input_folder_is_refused(small, tmp_path):
    from segstudio.core.errors import SegstudioError

    before = sorted(p.name for p in (small / "images").iterdir())
    with pytest.raises(SegstudioError, match="training output folder.*is the input folder"):
        train(config(small, small / "images", epochs=1))
    assert sorted(p.name for p in (small / "images").iterdir()) == before  # nothing written there
