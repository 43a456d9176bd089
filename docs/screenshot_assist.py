"""Make docs/screenshot-{grabcut,modelwand,confidence,review}.png: the assisted tools in use on CamVid val frames.

Opens 6 CamVid val frames in the studio, predicts them with the default model,
then drives the window with real mouse events and the tools' actions: a GrabCut box around a
car (preview before Enter), the model wand (M) held down on a pavement the model is unsure
of (preview before release), the confidence heat map (U), and the review queue
(two images marked reviewed with V, the list in least-confident-first order).
Each shot is the X screen as a user sees it (`import`). Run under a display:

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python docs/screenshot_assist.py [--camvid DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEMS = ["0016E5_07959", "0016E5_07983", "0016E5_08009", "0016E5_08059", "0016E5_08109", "0016E5_08135"]


def shoot(app, win, out: Path) -> None:
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    geo = win.frameGeometry()
    raw = out.with_suffix(".raw.png")
    subprocess.run(["import", "-window", "root", "-crop", f"{geo.width()}x{geo.height()}+{geo.x()}+{geo.y()}",
                    str(raw)], check=True, timeout=60)
    subprocess.run(["convert", str(raw), "+dither", "-colors", "256", "PNG8:" + str(out)], check=True)
    raw.unlink()
    print(f"{out} ({out.stat().st_size // 1024} KB)")


def largest_object_box(gt_path: Path, cls: int, margin: int = 6):
    import cv2
    import numpy as np

    from segstudio.core.imageio import read_label_png

    gt = read_label_png(gt_path)
    n, _, stats, _ = cv2.connectedComponentsWithStats((gt == cls).astype(np.uint8))
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, 4]))]
    return (max(0, x - margin), max(0, y - margin), min(gt.shape[1] - 1, x + w + margin),
            min(gt.shape[0] - 1, y + h + margin))


def innermost_point(gt_path: Path, cls: int) -> tuple[float, float]:
    """The pixel of class `cls` farthest from any other class (where a person would click)."""
    import cv2
    import numpy as np

    from segstudio.core.imageio import read_label_png

    dist = cv2.distanceTransform((read_label_png(gt_path) == cls).astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x), float(y)


def wait(app, cond, seconds: float = 600) -> None:
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the studio did not get there in time")
        app.processEvents()
        time.sleep(0.05)


def studio_window(tmp: Path, scan_models: bool = True):
    """(app, window): the studio shown at 1500x930 in the screen's corner, its settings in `tmp`."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from segstudio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    win = MainWindow(settings=QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "shot", "segstudio"),
                     scan_models=scan_models)
    win.resize(1500, 930)
    win.move(0, 0)
    win.show()
    return app, win


def predicted_studio(camvid: Path, stems: list[str]):
    """(app, window): the studio at 1500x930 on copies of these CamVid val frames, all predicted with
    the default model, its settings in a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-shot-"))
    (tmp / "images").mkdir()
    for s in stems:
        shutil.copy(camvid / "val" / f"{s}.png", tmp / "images")
    app, win = studio_window(tmp)
    assert win.open_path(tmp / "images", labels="camvid")
    wait(app, lambda: win.prediction.model_path is not None)
    win.predict_unlabelled()
    wait(app, lambda: not win.prediction.busy)
    return app, win


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from segstudio.gui.canvas import Tool

    app, win = predicted_studio(args.camvid, STEMS)
    win.open_stem("0016E5_08109")
    c, ctl = win.canvas, win.assist

    def drag(pts, mods=Qt.KeyboardModifier.NoModifier):
        wp = [c.to_widget(x, y).toPoint() for x, y in pts]
        QTest.mousePress(c, Qt.MouseButton.LeftButton, mods, wp[0])
        for p in wp[1:]:
            QTest.mouseMove(c, p)
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, mods, wp[-1])

    # GrabCut: a box around the nearest cyclist (from the ground truth), preview shown before Enter.
    x0, y0, x1, y1 = largest_object_box(args.camvid / "valannot" / "0016E5_08109.png", 10)
    win.set_current_class(10)
    ctl.actions["grabcut"].trigger()  # the C key's action (no window manager here to give keyboard focus)
    wait(app, lambda: ctl.rgb() is not None)
    drag([(x0, y0), ((x0 + x1) / 2, (y0 + y1) / 2), (x1, y1)])
    wait(app, lambda: ctl.tools["grabcut"].result is not None)
    shoot(app, win, args.out / "screenshot-grabcut.png")
    QTest.keyClick(c, Qt.Key.Key_Escape)

    # Model wand: pressed in the largest pavement region, the preview of the superpixels the model
    # gives "Pavement" at least the tolerance, before the release commits it.
    cx, cy = innermost_point(args.camvid / "valannot" / "0016E5_08109.png", 4)
    win.set_current_class(4)
    ctl.actions["modelwand"].trigger()
    wait(app, lambda: ctl.model_wand() is not None)
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c.to_widget(cx, cy).toPoint())
    shoot(app, win, args.out / "screenshot-modelwand.png")
    QTest.keyClick(c, Qt.Key.Key_Escape)  # drops the preview: the release commits nothing
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c.to_widget(cx, cy).toPoint())

    # Confidence heat map (U) on the same frame.
    win.tools.set_tool(Tool.BRUSH)
    ctl.confidence.act_heat.setChecked(True)
    wait(app, lambda: ctl.confidence.conf is not None)
    shoot(app, win, args.out / "screenshot-confidence.png")
    ctl.confidence.act_heat.setChecked(False)

    # Review queue: least confident first, two images marked reviewed with V.
    ctl.review.order_combo.setCurrentIndex(1)
    wait(app, lambda: not win.prediction.busy and not ctl.confidence.runner.running())
    win.open_image(Path(win.file_list.list.item(0).data(Qt.ItemDataRole.UserRole)))
    ctl.review.act_reviewed.trigger()  # V
    ctl.review.act_reviewed.trigger()
    c.zoom_to(c.scale, QPointF(0, 0))
    shoot(app, win, args.out / "screenshot-review.png")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
