"""The main window's hooks to the other dialogs: save first, exact constructor arguments, reload after import."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset
from segstudio.gui import eval_dialog as ev
from segstudio.gui import export_dialog as exp
from segstudio.gui import import_dialog as mod
from segstudio.gui import train_dialog as train

CAMVID = preset("camvid")


def _paint(qtbot, c):
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=c.to_widget(5, 5).toPoint())
    qtbot.mouseMove(c, c.to_widget(40, 20).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=c.to_widget(40, 20).toPoint())


def test_import_saves_first_then_reloads_masks(make_window, image_folder, qtbot, monkeypatch):
    win = make_window(image_folder, autosave_ms=60000)
    _paint(qtbot, win.canvas)
    calls = []

    class FakeImport(QDialog):
        def __init__(self, parent, images_dir, masks_dir, labelset, kind):
            super().__init__(parent)
            calls.append((images_dir, masks_dir, labelset, kind, (masks_dir / "im0.png").exists()))
            self.masks_dir = masks_dir

        def exec(self):
            write_label_png(self.masks_dir / "im0.png", np.full((64, 96), 9, np.uint8), CAMVID)
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(mod, "ImportDialog", FakeImport)
    win.act_import["coco"].trigger()
    images_dir, masks_dir, labelset, kind, saved_before = calls[0]
    assert (images_dir, masks_dir, labelset, kind) == (win.project.images_dir, win.project.masks_dir, CAMVID, "coco")
    assert saved_before  # the edit was saved before the dialog opened
    assert (win.canvas.labels == 9).all()  # reloaded from disk
    assert win.current.history_length == 0


def test_export_and_eval_and_train_hooks(make_window, image_folder, qtbot, monkeypatch):
    win = make_window(image_folder)
    got = {}

    class FakeExport(QDialog):
        def __init__(self, parent, images_dir, masks_dir, labelset, fmt):
            super().__init__(parent)
            got["export"] = fmt

        def exec(self):
            return QDialog.DialogCode.Rejected

    class FakeEval(QWidget):
        def __init__(self, parent, images_dir, masks_dir, labelset, gt_dir, model_path, open_image):
            super().__init__()
            got["eval"] = (gt_dir, model_path)
            open_image("im2")

    monkeypatch.setattr(exp, "ExportDialog", FakeExport)
    monkeypatch.setattr(ev, "EvalDialog", FakeEval)
    win.act_export_voc.trigger()
    assert got["export"] == "voc"
    win.set_gt_dir(image_folder)
    win.act_eval.trigger()
    assert got["eval"] == (image_folder, None)
    assert win.current.path.name == "im2.png"  # open_image(stem) switched images

    class FakeTrain(QWidget):
        def __init__(self, parent, images_dir, masks_dir, labelset, on_model_ready):
            super().__init__()
            got["train"] = (images_dir, labelset)
            on_model_ready(image_folder / "new-model.safetensors")

    monkeypatch.setattr(train, "TrainDialog", FakeTrain)
    win.act_train.trigger()
    assert got["train"] == (win.project.images_dir, CAMVID)
    assert win.prediction.model_path == image_folder / "new-model.safetensors"  # the trained model is selected
    assert "new-model" in [a.text() for a in win.model_menu.actions()]
