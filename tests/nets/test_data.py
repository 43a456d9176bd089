"""Training data: pairing, split layouts, class weights by hand, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset
from segstudio.nets.data import (IGNORE, Augment, DataError, SegmentationDataset, augment, class_pixel_counts,
                                 find_data, load_pair, median_frequency_weights, pad_collate, split_fraction)
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset


def test_folders_with_split_lists(tmp_path):
    root = write_shapes_dataset(tmp_path / "d", n_train=5, n_val=3, size=(32, 24))
    split = find_data(images=root / "images", masks=root / "masks", train_list=root / "train.txt",
                      val_list=root / "val.txt")
    assert [s.stem for s in split.train] == [f"train_{i:03d}" for i in range(5)]
    assert [s.stem for s in split.val] == [f"val_{i:03d}" for i in range(3)]
    assert all(s.mask == root / "masks" / f"{s.stem}.png" for s in split.train + split.val)


def test_val_list_only_keeps_the_rest_for_training(tmp_path):
    root = write_shapes_dataset(tmp_path / "d", n_train=4, n_val=2, size=(32, 24))
    split = find_data(images=root / "images", masks=root / "masks", val_list=root / "val.txt")
    assert {s.stem for s in split.val} == {"val_000", "val_001"}
    assert {s.stem for s in split.train} == {f"train_{i:03d}" for i in range(4)}


@pytest.mark.parametrize("layout", ["camvid", "voc"])
def test_data_root_layouts(tmp_path, layout):
    root = write_shapes_dataset(tmp_path / layout, n_train=4, n_val=2, size=(32, 24), layout=layout)
    split = find_data(root)
    assert len(split.train) == 4 and len(split.val) == 2
    assert layout in split.description
    if layout == "camvid":
        assert split.val[0].image.parent.name == "val" and split.val[0].mask.parent.name == "valannot"


def test_unknown_layout_and_missing_masks_are_named(tmp_path):
    with pytest.raises(DataError, match="not a known data layout"):
        find_data(tmp_path)
    root = write_shapes_dataset(tmp_path / "d", n_train=3, n_val=1, size=(32, 24))
    (root / "masks" / "train_001.png").unlink()
    with pytest.raises(DataError, match=r"no mask PNG for 1 image.*train_001"):
        find_data(images=root / "images", masks=root / "masks", train_list=root / "train.txt")
    # without a list, images without masks are simply not annotated yet
    split = find_data(images=root / "images", masks=root / "masks")
    assert "train_001" not in {s.stem for s in split.train}


def test_val_fraction_is_seeded_and_disjoint(tmp_path):
    root = write_shapes_dataset(tmp_path / "d", n_train=10, n_val=0, size=(32, 24))
    a = find_data(images=root / "images", masks=root / "masks", val_fraction=0.3, seed=1)
    b = find_data(images=root / "images", masks=root / "masks", val_fraction=0.3, seed=1)
    assert [s.stem for s in a.val] == [s.stem for s in b.val] and len(a.val) == 3
    assert not {s.stem for s in a.val} & {s.stem for s in a.train}
    train, val = split_fraction(a.train[:1], 0.5)
    assert len(train) == 1 and val == []


def test_median_frequency_weights_match_hand_computation(tmp_path):
    # Image A (2x4 = 8 px): class 0 x5, class 1 x2, void x1.  Image B (8 px): class 0 x4, class 2 x4.
    a = np.array([[0, 0, 0, 0], [0, 1, 1, 255]], np.uint8)
    b = np.array([[0, 0, 2, 2], [0, 0, 2, 2]], np.uint8)
    ls = preset("voc")
    write_label_png(tmp_path / "a.png", a, ls)
    write_label_png(tmp_path / "b.png", b, ls)
    counts, totals = class_pixel_counts([tmp_path / "a.png", tmp_path / "b.png"], 4)
    assert counts.tolist() == [9, 2, 4, 0]
    assert totals.tolist() == [16, 8, 8, 0]  # class 3 appears nowhere
    # freq = 9/16, 2/8, 4/8; median = 0.5
    w = median_frequency_weights(counts, totals)
    assert w == pytest.approx([0.5 / (9 / 16), 0.5 / 0.25, 1.0, 0.0])


def test_load_pair_maps_non_classes_to_ignore_and_resizes(tmp_path):
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, 30:] = 200
    labels = np.zeros((40, 60), np.uint8)
    labels[:, 30:] = 1
    labels[0, 0] = 11  # CamVid void
    labels[0, 1] = 7
    Image.fromarray(img).save(tmp_path / "x.png")
    write_label_png(tmp_path / "x_mask.png", labels, preset("camvid"))
    from segstudio.nets.data import Sample

    s = Sample("x", tmp_path / "x.png", tmp_path / "x_mask.png")
    im, m = load_pair(s, num_classes=2)
    assert m[0, 0] == IGNORE and m[0, 1] == IGNORE and m[5, 5] == 0 and m[5, 40] == 1
    im, m = load_pair(s, num_classes=2, scale=0.5)
    assert im.shape == (20, 30, 3) and m.shape == (20, 30)
    assert set(np.unique(m)) <= {0, 1, IGNORE}  # nearest-neighbour labels, never blended
    im, m = load_pair(s, num_classes=2, size=(16, 8))
    assert im.shape == (8, 16, 3)


def test_mask_of_another_size_is_an_error_naming_both(tmp_path):
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "x.png")
    write_label_png(tmp_path / "m.png", np.zeros((9, 12), np.uint8), SHAPES_LABELSET)
    from segstudio.core.errors import ImageSizeMismatch
    from segstudio.nets.data import Sample

    with pytest.raises(ImageSizeMismatch, match=r"12x9.*12x10"):
        load_pair(Sample("x", tmp_path / "x.png", tmp_path / "m.png"), 3)


def test_augment_keeps_image_and_mask_aligned():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (30, 40, 3)).astype(np.uint8)
    mask = (img[..., 0] > 127).astype(np.uint8)  # the mask is a function of the image
    import random

    aug = Augment(scale_min=1.0, scale_max=1.0, crop=(20, 16), hflip=True)
    for seed in range(10):
        im, m = augment(img, mask, aug, random.Random(seed))
        assert im.shape == (16, 20, 3) and m.shape == (16, 20)
        assert np.array_equal(m, (im[..., 0] > 127).astype(np.uint8))
    # a crop larger than the image pads the mask with ignore
    im, m = augment(img, mask, Augment(crop=(50, 40)), random.Random(0))
    assert im.shape == (40, 50, 3) and (m[30:, :] == IGNORE).all() and (m[:, 40:] == IGNORE).all()
    # random scaling changes the size; colour jitter changes the image, never the mask
    im, m = augment(img, mask, Augment(scale_min=0.5, scale_max=0.5, color_jitter=0.3), random.Random(3))
    assert im.shape == (15, 20, 3) and m.shape == (15, 20)


def test_dataset_items_are_deterministic_per_epoch_and_collate_pads(tmp_path):
    root = write_shapes_dataset(tmp_path / "d", n_train=3, n_val=0, size=(32, 24))
    split = find_data(images=root / "images", masks=root / "masks")
    ds = SegmentationDataset(split.train, 3, augment=Augment(scale_min=0.7, scale_max=1.3, hflip=True), seed=5)
    x1, y1, _ = ds[1]
    x2, y2, _ = ds[1]
    assert x1.dtype.is_floating_point is False and y1.dtype.is_floating_point is False
    assert x1.equal(x2) and y1.equal(y2)
    ds.set_epoch(1)
    sizes = {tuple(ds[i][0].shape) for i in range(3)}
    xs, ys, idx = pad_collate([ds[0], ds[1], ds[2]])
    h, w = max(s[1] for s in sizes), max(s[2] for s in sizes)
    assert xs.shape == (3, 3, h, w) and ys.shape == (3, h, w) and idx.tolist() == [0, 1, 2]
    small = min(range(3), key=lambda i: ds[i][0].shape[1] * ds[i][0].shape[2])
    sh, sw = ds[small][1].shape
    assert len(sizes) > 1 and (sh, sw) != (h, w)  # random scaling gave different sizes
    assert (ys[small, sh:, :] == IGNORE).all() and (ys[small, :, sw:] == IGNORE).all()
    assert ys[small, :sh, :sw].equal(ds[small][1]) and xs[small, :, :sh, :sw].equal(ds[small][0])
