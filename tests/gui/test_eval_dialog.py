"""The evaluation dialog shows the figures `segstudio eval` computes, and a model's."""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from segstudio.cli import main
from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix
from segstudio.gui.eval_dialog import EvalDialog, pct

LS = LabelSet(names=("road", "car", "sky"), colors=((128, 64, 128), (64, 0, 128), (128, 128, 128)),
              ignore_index=3, name="three")


@pytest.fixture
def folders(tmp_path):
    images, masks, gt = tmp_path / "images", tmp_path / "masks", tmp_path / "gt"
    for d in (images, masks, gt):
        d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (16, 20, 3), np.uint8)).save(images / f"im{i}.png")
        g = rng.integers(0, 3, (16, 20)).astype(np.uint8)
        g[0] = 3  # void row
        p = g.copy()
        noise = rng.random((16, 20)) < 0.1 * (i + 1)  # image i has more errors than image i-1
        p[noise] = (p[noise] + 1) % 3
        write_label_png(gt / f"im{i}.png", g, LS)
        write_label_png(masks / f"im{i}.png", p, LS)
    return images, masks, gt


def _run(qtbot, dlg):
    qtbot.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state in ("done", "failed"), timeout=60000)
    assert dlg.state == "done", dlg.status_label.text()


def test_figures_equal_segstudio_eval(qtbot, folders, tmp_path):
    images, masks, gt = folders
    opened = []
    dlg = EvalDialog(None, images, masks, LS, gt, None, opened.append)
    qtbot.addWidget(dlg)
    assert not dlg.model_radio.isEnabled()
    _run(qtbot, dlg)
    assert main(["eval", "--pred", str(masks), "--gt", str(gt), "--labels", str(_labelset_file(tmp_path)),
                 "--json", str(tmp_path / "cli.json")]) == 0
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert dlg.report == cli
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou"):
        assert dlg.headline[key].text() == pct(cli[key])
    assert dlg.headline["images"].text() == "5"
    for i, c in enumerate(cli["per_class"]):
        assert dlg.class_table.item(i, 0).text() == c["name"]
        assert dlg.class_table.item(i, 1).text() == pct(c["iou"])
        assert dlg.class_table.item(i, 3).text() == f"{c['gt_pixels']:,}"
    assert dlg.iou_chart.values() == pytest.approx([c["iou"] for c in cli["per_class"]])
    conf = np.array(cli["confusion_matrix"])[:, :3]
    assert dlg.confusion_chart.values()[1] == pytest.approx(list(conf[1] / conf[1].sum()))
    # worst image first; double-click opens it
    assert dlg.worst_table.item(0, 0).text() == "im4"
    dlg.show()
    qtbot.waitExposed(dlg)
    rect = dlg.worst_table.visualItemRect(dlg.worst_table.item(0, 0))
    # a real double-click: press/release, then the double-click event
    qtbot.mouseClick(dlg.worst_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(dlg.worst_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == ["im4"]
    # saving
    assert json.loads(dlg.save_json(tmp_path / "r.json").read_text()) == cli
    rows = list(csv.reader(io.StringIO(dlg.save_csv(tmp_path / "r.csv").read_text())))
    assert rows[0] == ["class", "iou", "accuracy", "gt_pixels", "pred_pixels"]
    assert rows[1][0] == "road" and float(rows[1][1]) == pytest.approx(cli["per_class"][0]["iou"])
    assert ["mean_iou", str(cli["mean_iou"])] in rows
    pngs = dlg.save_charts(tmp_path / "charts.png")
    assert [p.name for p in pngs] == ["charts-iou.png", "charts-confusion.png"]
    for p in pngs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 900


def _labelset_file(tmp_path):
    path = tmp_path / "three.json"
    LS.save(path)
    return path


def test_missing_ground_truth_folder_is_reported(qtbot, folders, tmp_path):
    images, masks, _ = folders
    dlg = EvalDialog(None, images, masks, LS, tmp_path / "nope", None, lambda s: None)
    qtbot.addWidget(dlg)
    qtbot.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == "failed", timeout=10000)
    assert "nope" in dlg.status_label.text()
    assert not dlg.save_json_button.isEnabled()


def test_model_predictions_are_scored(qtbot, folders, tmp_path):
    import torch

    from segstudio.nets import build_model
    from segstudio.nets.checkpoint import make_card, save_checkpoint
    from segstudio.nets.predictor import Predictor

    images, masks, gt = folders
    for i in range(2, 5):  # two images keep the CPU prediction short
        (images / f"im{i}.png").unlink()
    torch.manual_seed(0)
    model = build_model("segnet-basic", 3, width=0.125)
    ckpt = save_checkpoint(tmp_path / "tiny", model, make_card("segnet-basic", 0.125, LS, name="tiny"))
    dlg = EvalDialog(None, images, masks, LS, gt, ckpt, lambda s: None)
    qtbot.addWidget(dlg)
    assert dlg.model_radio.isEnabled()
    dlg.model_radio.setChecked(True)
    _run(qtbot, dlg)
    # the same figures, computed here from the predictor directly
    pred = Predictor.from_checkpoint(ckpt, device="cpu")
    cm = ConfusionMatrix(3)
    for p in sorted(images.glob("*.png")):
        labels = pred.predict(np.asarray(Image.open(p).convert("RGB")))
        cm.update(read_label_png(gt / p.name), labels)
    assert dlg.report["mean_iou"] == pytest.approx(cm.scores().mean_iou)
    assert dlg.report["confusion_matrix"] == cm.confusion.tolist()
    assert dlg.headline["images"].text() == "2"
    assert "3 ground-truth file(s) have no mask / prediction" in dlg.status_label.text()


def test_opened_from_the_main_window(make_window, qtbot, tmp_path):
    from segstudio.core.labels import preset

    camvid = preset("camvid")
    images, gt = tmp_path / "images", tmp_path / "gt"
    (images / "SegmentationClass").mkdir(parents=True)
    gt.mkdir()
    for i in range(3):
        Image.fromarray(np.full((24, 32, 3), 60 * i, np.uint8)).save(images / f"im{i}.png")
        g = np.full((24, 32), 3, np.uint8)
        g[:, :10] = 0
        m = g.copy()
        m[:, 10:10 + 6 * i] = 8  # im2 disagrees most
        write_label_png(gt / f"im{i}.png", g, camvid)
        write_label_png(images / "SegmentationClass" / f"im{i}.png", m, camvid)
    win = make_window(images)
    win.set_gt_dir(gt)
    win.open_eval()
    dlg = win.dialogs.open_dialogs[-1]
    assert isinstance(dlg, EvalDialog) and dlg.gt_edit.text() == str(gt)
    _run(qtbot, dlg)
    assert dlg.worst_table.item(0, 0).text() == "im2"
    dlg._open_worst(0, 0)  # what a double-click does (the click itself is tested above)
    qtbot.waitUntil(lambda: win.current is not None and win.current.path.stem == "im2", timeout=5000)
    dlg.close()


def test_stray_ground_truth_values_are_reported(qtbot, folders):
    images, masks, gt = folders
    g = read_label_png(gt / "im2.png").copy()
    g[5, :4] = 200  # not a class of the 3-class set, not void
    write_label_png(gt / "im2.png", g, LS)
    dlg = EvalDialog(None, images, masks, LS, gt, None, lambda p: None)
    qtbot.addWidget(dlg)
    _run(qtbot, dlg)
    text = dlg.status_label.text()
    assert "1 ground-truth file(s) hold values outside the label set" in text and "im2.png" in text
    assert "200 (4 px)" in text
    assert dlg.report["stray_ground_truth"] == [{"stem": "im2", "values": {"200": 4}}]
