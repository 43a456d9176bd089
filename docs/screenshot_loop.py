"""Make docs/screenshot-loop.png and docs/screenshot-similar.png: Learn As I Annotate and the similar-region click.

Opens CamVid frames of sequence 0006R0 (held out from the fcn8s-lite0 model given by --model), predicts
them, then:
  - screenshot-similar.png: the similar-region click (K) pressed on the pavement of one frame, its
    live preview in the current class (Pavement) before the release;
  - screenshot-loop.png: the first two frames saved with their ground truth (as a person's finished
    corrections), Model > Learn As I Annotate on: one round fine-tunes project model v1 on them and
    re-predicts the other frames; the shot shows the Model menu with the switch and the status-bar line.
Run under a display:

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python docs/screenshot_loop.py --model M.safetensors
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshot_assist import shoot, studio_window, wait  # noqa: E402

STEMS = ["0006R0_f00930", "0006R0_f00960", "0006R0_f00990", "0006R0_f01020", "0006R0_f01050", "0006R0_f01080"]


def studio(camvid: Path, model: Path):
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-shot-"))
    (tmp / "images").mkdir()
    for s in STEMS:
        shutil.copy(camvid / "train" / f"{s}.png", tmp / "images")
    app, win = studio_window(tmp, scan_models=False)
    assert win.open_path(tmp / "images", labels="camvid")
    win.prediction.select(model)
    win.predict_unlabelled()
    wait(app, lambda: not win.prediction.busy)
    return app, win


def similar_shot(app, win, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    win.open_stem(STEMS[2])
    c, ctl = win.canvas, win.assist
    win.set_current_class(win.project.labelset.names.index("Pavement"))
    ctl.actions["similar"].trigger()
    wait(app, lambda: ctl.similar_region() is not None, seconds=300)
    win.act_hide.setChecked(True)  # the labels hidden: only the preview is drawn over the photo
    p = c.to_widget(400, 230).toPoint()  # the pavement right of the lamp post
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    shoot(app, win, out)
    QTest.keyClick(c, Qt.Key.Key_Escape)  # drop the preview
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    win.act_hide.setChecked(False)


def loop_shot(app, win, camvid: Path, out: Path) -> None:
    from segstudio.core.imageio import read_label_png
    from segstudio.core.states import ImageState
    from segstudio.nets.learning_loop import LoopSettings

    win.open_stem(STEMS[3])
    for s in STEMS[:2]:  # a person's finished corrections
        win.project.save_mask(win.project.images_dir / f"{s}.png", read_label_png(camvid / "trainannot" / f"{s}.png"),
                              ImageState.SAVED)
        win.refresh_state(win.project.images_dir / f"{s}.png")
    loop = win.learning
    loop.loop_settings = LoopSettings(minutes=1.0, threads=2)
    loop.timer.setInterval(0)
    loop.set_enabled(True)
    wait(app, lambda: loop.runner.running(), seconds=30)
    wait(app, lambda: not loop.runner.running(), seconds=900)
    win.open_stem(STEMS[4])  # re-predicted by v1
    win.model_menu.popup(win.mapToGlobal(win.menuBar().geometry().bottomLeft())
                         + win.menuBar().actionGeometry(win.model_menu.menuAction()).topLeft())
    shoot(app, win, out)
    win.model_menu.hide()
    print(loop.label.text())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--model", type=Path, required=True, help="an fcn8s-lite0 CamVid model without 0006R0")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--shots", default="similar,loop")
    args = ap.parse_args()
    app, win = studio(args.camvid, args.model)
    if "similar" in args.shots:
        similar_shot(app, win, args.out / "screenshot-similar.png")
    if "loop" in args.shots:
        loop_shot(app, win, args.camvid, args.out / "screenshot-loop.png")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
