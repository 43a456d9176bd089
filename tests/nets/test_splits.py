"""Sequence hold-out splits, the file-list digest, tempered class weights, portable cards."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.nets.data import DataError, find_data, hold_out_sequences, sequence_of, tempered_weights
from segstudio.nets.train_checkpoints import portable_recipe
from segstudio.nets.train_config import TrainConfig
from ..shapes_data import write_shapes_dataset


def camvid_like(tmp_path, name="camvid"):
    """A CamVid-layout root whose training stems come from two sequences, SEQA_ and SEQB_."""
    root = write_shapes_dataset(tmp_path / name, n_train=6, n_val=2, size=(32, 24), layout="camvid")
    for i in range(6):
        new = f"{'SEQA' if i < 4 else 'SEQB'}_{i:05d}"
        for d in ("train", "trainannot"):
            (root / d / f"train_{i:03d}.png").rename(root / d / f"{new}.png")
    (root / "train.txt").unlink()
    return root


def test_val_sequences_hold_out_whole_sequences_and_keep_the_standard_val(tmp_path):
    root = camvid_like(tmp_path)
    split = find_data(root, val_sequences=["SEQB"])
    assert sorted(s.stem for s in split.val) == ["SEQB_00004", "SEQB_00005"]
    assert {sequence_of(s.stem) for s in split.train} == {"SEQA"} and len(split.train) == 4
    assert [s.stem for s in split.extra["val"]] == ["val_000", "val_001"]  # standard val still evaluated
    assert split.val_name == "held-out sequences SEQB"
    d = split.to_dict()
    assert d["train_images"] == 4 and d["val_images"] == 2 and d["also_evaluated"] == {"val": 2}
    assert d["source"] == "camvid (camvid layout)" and str(tmp_path) not in str(d)


def test_val_sequences_naming_no_training_frames_is_an_error(tmp_path):
    root = camvid_like(tmp_path)
    with pytest.raises(DataError, match=r"sequence\(s\) 0006R0.*SEQA, SEQB"):
        find_data(root, val_sequences=["0006R0"])
    with pytest.raises(DataError, match="names no sequence"):
        hold_out_sequences(find_data(root), [" "])


def test_split_lists_give_the_same_hold_out(tmp_path):
    root = camvid_like(tmp_path)
    (tmp_path / "tr.txt").write_text("".join(f"SEQA_{i:05d}\n" for i in range(4)))
    (tmp_path / "va.txt").write_text("SEQB_00004\nSEQB_00005\n")
    by_list = find_data(root, train_list=tmp_path / "tr.txt", val_list=tmp_path / "va.txt")
    by_seq = find_data(root, val_sequences=["SEQB"])
    assert [s.stem for s in by_list.train] == [s.stem for s in by_seq.train]
    assert [s.stem for s in by_list.val] == [s.stem for s in by_seq.val]


def test_digest_names_the_file_list_not_the_machine(tmp_path):
    a = find_data(camvid_like(tmp_path / "one"), val_sequences=["SEQB"])
    b = find_data(camvid_like(tmp_path / "two"), val_sequences=["SEQB"])
    assert a.digest() == b.digest() and len(a.digest()) == 64  # same files elsewhere: same digest
    c = find_data(camvid_like(tmp_path / "three"), val_sequences=["SEQA"])
    assert c.digest() != a.digest()  # another split of the same files: another digest
    (tmp_path / "one" / "camvid" / "train" / "SEQA_00000.png").unlink()
    assert find_data(tmp_path / "one" / "camvid", val_sequences=["SEQB"]).digest() != a.digest()


def test_tempered_class_weights_by_hand():
    w = np.array([0.25, 1.0, 4.0, 16.0])
    assert tempered_weights(w, 0.5).tolist() == [0.5, 1.0, 2.0, 4.0]
    assert tempered_weights(w, 1.0, cap=5.0).tolist() == [0.25, 1.0, 4.0, 5.0]
    assert tempered_weights(w, 0.5, cap=3.0).tolist() == [0.5, 1.0, 2.0, 3.0]


def test_config_accepts_sequences_as_text_and_portable_recipe_drops_paths():
    cfg = TrainConfig().updated({"val_sequences": "0006R0, 0001TP", "class_weights": "sqrt-median-freq",
                                 "gamma": 0.3, "blur": 0.2, "noise": 4})
    assert cfg.val_sequences == ["0006R0", "0001TP"]
    with pytest.raises(ValueError, match="class_weights must be one of"):
        TrainConfig().updated({"class_weights": "inverse"})
    with pytest.raises(ValueError, match="blur a probability"):
        TrainConfig().updated({"blur": 2.0})
    p = portable_recipe({"data": "/home/me/datasets/camvid", "train_list": "C:\\lists\\tr.txt",
                         "init": "segnet-basic-camvid", "out": "/tmp/runs/x", "lr": 0.1})
    assert p == {"data": "camvid", "train_list": "tr.txt", "init": "segnet-basic-camvid", "out": "x", "lr": 0.1}


def test_training_with_held_out_sequences_reports_both_splits_in_a_portable_card(tmp_path):
    from segstudio.nets.checkpoint import read_card
    from ..shapes_data import SHAPES_LABELSET
    from segstudio.nets.trainer import train

    root = camvid_like(tmp_path)
    SHAPES_LABELSET.save(tmp_path / "labels.json")
    cfg = TrainConfig(arch="segnet-basic", width=0.125, data=str(root), val_sequences=["SEQB"],
                      labels=str(tmp_path / "labels.json"), out=str(tmp_path / "run"), epochs=1, batch_size=2,
                      lr=0.05, scale=0.5, aug_scale=(0.5, 2.0), crop="16x12", hflip=True, gamma=0.3,
                      noise=3.0, class_weights="sqrt-median-freq", class_weight_cap=3.0, threads=1)
    result = train(cfg)
    card = read_card(result.best_path)
    assert card["metrics"]["split"] == "held-out sequences SEQB" and card["metrics"]["images"] == 2
    assert card["metrics_extra"]["val"]["images"] == 2 and 0 <= card["metrics_extra"]["val"]["mean_iou"] <= 1
    assert set(result.extra_metrics) == {"val"}
    assert card["input"]["train_short_side"] == 12  # 24 px * scale 0.5 * sqrt(0.5 * 2.0)
    data = card["training"]["data"]
    assert data["file_list_sha256"] == find_data(root, val_sequences=["SEQB"]).digest()
    assert max(data["class_weights"]) <= 3.0
    text = (result.best_path.with_suffix(".json")).read_text()
    assert str(tmp_path) not in text  # no path of the machine that trained
    assert card["training"]["recipe"]["data"] == "camvid"
