"""`segstudio` without a path: a copy of the samples, camvid labels, their ground truth, the default model."""

import argparse

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from segstudio.core.labels import preset


def _fake_resources(root):
    samples = root / "resources" / "samples"
    (samples / "ground-truth").mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (48, 36), (10 * i, 20, 30)).save(samples / f"s{i}.png")
        Image.fromarray(np.full((36, 48), i, np.uint8), "L").save(samples / "ground-truth" / f"s{i}.png")
    return root / "resources"


def test_run_app_opens_sample_copy_without_models(tmp_path, monkeypatch, studio_settings, qtbot):
    from segstudio.gui.app import run_app
    from segstudio.gui.main_window import MainWindow

    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(_fake_resources(tmp_path)))
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "no-models"))
    seen = {}

    def poll():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or not wins[0].prediction.scan_done:
            QTimer.singleShot(50, poll)
            return
        w = wins[0]
        seen.update(folder=w.project.images_dir, labels=w.project.labelset, gt=w.gt_dir,
                    predict_enabled=w.act_predict.isEnabled(), tip=w.act_predict.toolTip(),
                    menu=[a.text() for a in w.model_menu.actions()], scores=w.gt_scores())
        w.close()

    QTimer.singleShot(50, poll)
    assert run_app(argparse.Namespace(path=None, labels=None, model=None, masks=None)) == 0
    assert seen["folder"] == (tmp_path / "home" / "samples").resolve()
    assert seen["labels"] == preset("camvid")
    assert seen["gt"] is not None and seen["gt"].name == "ground-truth"
    assert seen["scores"] is not None
    assert not seen["predict_enabled"] and "No model" in seen["tip"]
    assert "(no models found)" in seen["menu"]
    assert not (tmp_path / "resources" / "samples" / "SegmentationClass").exists()


def test_window_is_painted_before_the_folder_opens_and_the_models_are_scanned(tmp_path, monkeypatch,
                                                                               studio_settings, qtbot):
    from PySide6.QtCore import QEvent, QObject

    from segstudio.gui.app import run_app
    from segstudio.gui.main_window import MainWindow

    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(_fake_resources(tmp_path)))
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "no-models"))
    at_first_paint = []

    class Probe(QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint and isinstance(obj, MainWindow) and not at_first_paint:
                at_first_paint.append((obj.project, obj.prediction.scanner.running() or obj.prediction.scan_done,
                                       (tmp_path / "home" / "samples").exists()))
            return False

    probe = Probe()
    QApplication.instance().installEventFilter(probe)

    def poll():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or not wins[0].prediction.scan_done or wins[0].project is None:
            QTimer.singleShot(50, poll)
            return
        wins[0].close()

    QTimer.singleShot(50, poll)
    try:
        assert run_app(argparse.Namespace(path=None, labels=None, model=None, masks=None)) == 0
    finally:
        QApplication.instance().removeEventFilter(probe)
    # At the first paint: no folder open yet, no scan started, the samples not even copied.
    assert at_first_paint == [(None, False, False)]
    assert (tmp_path / "home" / "samples" / "s0.png").is_file()  # ...and afterwards they were
