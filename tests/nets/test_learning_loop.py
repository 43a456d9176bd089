"""The learning loop's fine-tune (nets/learning_loop.py) on a tiny synthetic project folder."""

import threading
from pathlib import Path

import pytest

from segstudio.nets.checkpoint import read_card
from segstudio.nets.learning_loop import (LoopSettings, choose_base, describe, feature_problem, finetune,
                                          latest, model_dir, versions)
from tests.shapes_data import SHAPES_LABELSET, write_shapes_dataset

FAST = LoopSettings(minutes=0.05, batch_size=2, short_side=48, crop=None, nice=0)


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_shapes_dataset(tmp_path / "proj", n_train=4, n_val=0)


def stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "masks").glob("*.png"))


@pytest.mark.slow
def test_versions_follow_each_other_and_say_what_they_were_trained_on(folder):
    first = finetune(folder / "images", folder / "masks", stems(folder)[:2], SHAPES_LABELSET, settings=FAST)
    assert first.version == 1 and first.base == "ImageNet encoder" and first.images == 2
    assert first.path == model_dir(folder / "images") / "project-v1.safetensors"
    card = read_card(first.path)
    assert card["arch"] == "fcn8s-lite0" and card["project_model"]["trained_on_images"] == 2
    second = finetune(folder / "images", folder / "masks", stems(folder), SHAPES_LABELSET, settings=FAST)
    assert second.version == 2 and second.base == "project-v1" and second.images == 4
    assert [v for v, _ in versions(model_dir(folder / "images"))] == [1, 2]
    assert latest(model_dir(folder / "images")) == second.path
    assert describe(second.path) == "project model v2 · trained on 4 images"
    # only the versions stay: the run folders are removed
    assert sorted(p.name for p in model_dir(folder / "images").iterdir()) == [
        "project-v1.json", "project-v1.safetensors", "project-v2.json", "project-v2.safetensors"]


def test_cancelled_before_the_first_step_writes_no_version(folder):
    cancel = threading.Event()
    cancel.set()
    assert finetune(folder / "images", folder / "masks", stems(folder), SHAPES_LABELSET, settings=FAST,
                    cancel=cancel) is None
    assert versions(model_dir(folder / "images")) == []


def test_base_is_the_newest_version_else_a_lite0_of_the_same_classes(folder, tmp_path):
    import torch  # noqa: F401

    from segstudio.nets import build_model
    from segstudio.nets.checkpoint import make_card, save_checkpoint

    d = model_dir(folder / "images")
    assert choose_base(d, None, 3) is None
    seg = save_checkpoint(tmp_path / "m" / "seg.safetensors", build_model("segnet-basic", 3, 0.125),
                          make_card("segnet-basic", 0.125, SHAPES_LABELSET))
    assert choose_base(d, seg, 3) is None
    assert "needs an fcn8s-lite0" in feature_problem(read_card(seg))
    lite = save_checkpoint(tmp_path / "m" / "lite.safetensors", build_model("fcn8s-lite0", 3),
                           make_card("fcn8s-lite0", 1.0, SHAPES_LABELSET))
    assert choose_base(d, lite, 3) == lite
    assert choose_base(d, lite, 5) is None  # another label set
    assert feature_problem(read_card(lite)) is None


def test_no_images_is_refused(folder):
    from segstudio.nets.errors import ModelError

    with pytest.raises(ModelError, match="at least one"):
        finetune(folder / "images", folder / "masks", [], SHAPES_LABELSET, settings=FAST)


def test_repredict_order_starts_after_the_current_image_and_skips_the_unwanted():
    from segstudio.nets.learning_loop import repredict_order

    images = [Path(f"im{i}.png") for i in range(6)]
    open_ = {Path("im0.png"), Path("im2.png"), Path("im4.png"), Path("im5.png")}
    assert repredict_order(images, Path("im2.png"), lambda p: p in open_) == [
        Path("im4.png"), Path("im5.png"), Path("im0.png")]
    assert repredict_order(images, None, lambda p: p in open_, limit=2) == [Path("im0.png"), Path("im2.png")]
