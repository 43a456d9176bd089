"""`segstudio eval --model`: the CLI twin of the eval dialog, through nets.evaluation."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import write_label_png
from segstudio.core.jobs import Cancelled
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint
from segstudio.nets.evaluation import evaluate_model

LS = preset("camvid")


@pytest.fixture
def data(tmp_path):
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.125)
    ckpt = save_checkpoint(tmp_path / "tiny-camvid", model, make_card("segnet-basic", 0.125, LS))
    images, gt = tmp_path / "images", tmp_path / "gt"
    images.mkdir()
    gt.mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(48, 32), (48, 32), (40, 36)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(images / f"im{i}.png")
        write_label_png(gt / f"im{i}.png", rng.integers(0, 11, (h, w), dtype=np.uint8), LS)
    write_label_png(gt / "lonely.png", np.zeros((4, 4), np.uint8), LS)  # ground truth without an image
    return ckpt, images, gt


def test_model_eval_equals_predict_then_eval(data, tmp_path, capsys):
    ckpt, images, gt = data
    via_model, via_pred, preds = tmp_path / "m.json", tmp_path / "p.json", tmp_path / "preds"
    rc = main(["eval", "--model", str(ckpt), "--images", str(images), "--gt", str(gt), "--labels", "camvid",
               "--device", "cpu", "--json", str(via_model)])
    assert rc == 1  # lonely.png has no image: reported as missing
    assert "missing prediction: lonely.png" in capsys.readouterr().err
    assert main(["predict", "--model", str(ckpt), "--device", "cpu", "--out", str(preds), str(images)]) == 0
    main(["eval", "--pred", str(preds), "--gt", str(gt), "--labels", "camvid", "--json", str(via_pred)])
    a, b = json.loads(via_model.read_text()), json.loads(via_pred.read_text())
    assert a.keys() == b.keys()
    assert a == b and a["images"] == 3 and a["missing"] == ["lonely"]


def test_model_eval_with_tta_equals_predict_with_tta_then_eval(data, tmp_path, capsys):
    ckpt, images, gt = data
    via_model, via_pred, preds = tmp_path / "m.json", tmp_path / "p.json", tmp_path / "preds"
    main(["eval", "--model", str(ckpt), "--images", str(images), "--gt", str(gt), "--labels", "camvid",
          "--device", "cpu", "--tta", "flip+scales", "--json", str(via_model)])
    assert main(["predict", "--model", str(ckpt), "--device", "cpu", "--tta", "flip+scales", "--out", str(preds),
                 str(images)]) == 0
    main(["eval", "--pred", str(preds), "--gt", str(gt), "--labels", "camvid", "--json", str(via_pred)])
    plain = tmp_path / "plain.json"
    main(["eval", "--model", str(ckpt), "--images", str(images), "--gt", str(gt), "--labels", "camvid",
          "--device", "cpu", "--json", str(plain)])
    a, b = json.loads(via_model.read_text()), json.loads(via_pred.read_text())
    assert a == b and a["images"] == 3
    assert a != json.loads(plain.read_text())  # the views changed the labels of this random model


def test_evaluate_model_hands_out_each_prediction_and_cancels(data):
    ckpt, images, gt = data
    seen = []
    ev = evaluate_model(ckpt, images, gt, LS, device="cpu", on_labels=lambda p, lb: seen.append((p.name, lb.shape)))
    assert sorted(seen) == [("im0.png", (32, 48)), ("im1.png", (32, 48)), ("im2.png", (36, 40))]
    assert len(ev.scored) == 3 and ev.total.confusion.sum() == 2 * 48 * 32 + 40 * 36
    with pytest.raises(Cancelled):
        evaluate_model(ckpt, images, gt, LS, device="cpu", cancelled=lambda: True)


def test_wrong_label_set_and_argument_errors(data, tmp_path, capsys):
    ckpt, images, gt = data
    assert main(["eval", "--model", str(ckpt), "--images", str(images), "--gt", str(gt), "--labels", "voc"]) == 2
    assert "predicts 11 classes" in capsys.readouterr().err
    assert main(["eval", "--model", str(ckpt), "--gt", str(gt), "--labels", "camvid"]) == 2
    assert "--model needs --images" in capsys.readouterr().err
    assert main(["eval", "--gt", str(gt), "--labels", "camvid"]) == 2
    assert "either --pred" in capsys.readouterr().err


def test_stray_ground_truth_values_are_reported_by_both_modes(data, tmp_path, capsys):
    ckpt, images, gt = data
    a = np.zeros((32, 48), np.uint8)
    a[:2] = 40  # neither a class nor void
    write_label_png(gt / "im0.png", a, LS)
    out = tmp_path / "r.json"
    main(["eval", "--model", str(ckpt), "--images", str(images), "--gt", str(gt), "--labels", "camvid",
          "--device", "cpu", "--json", str(out)])
    assert "warning: im0.png: ground truth holds values outside the label set" in capsys.readouterr().err
    assert json.loads(out.read_text())["stray_ground_truth"] == [{"stem": "im0", "values": {"40": 96}}]
