"""Make docs/screenshot-protect.png: "paint over unlabelled and start class" correcting a prediction.

Opens CamVid val frame 0016E5_08059 in the studio, predicts it with the default model, turns on
Protect other classes in its start-class mode, and drags a 60 px Pavement brush from the patch of
pavement the model called Road up across the pavement, the building and a bush: only the Road
pixels under the stroke turn Pavement (the class panel's counts show it). The shot is the X screen
as a user sees it (`import`). Run under a display:

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python docs/screenshot_protect.py [--camvid DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshot_assist import predicted_studio, shoot  # noqa: E402

STEM = "0016E5_08059"
STROKE = [(15, 345), (70, 335), (100, 280), (80, 215), (50, 190)]  # image px: Road patch -> building


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from segstudio.gui.canvas import Tool

    app, win = predicted_studio(args.camvid, [STEM])
    win.open_stem(STEM)
    c = win.canvas
    win.tools.set_tool(Tool.BRUSH)
    win.set_current_class(win.project.labelset.names.index("Pavement"))
    win.protect_box.setChecked(True)
    win.protect_combo.setCurrentIndex(1)  # paint over unlabelled and start class
    win.size_spin.setValue(60)
    wp = [c.to_widget(x, y).toPoint() for x, y in STROKE]
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wp[0])
    for p in wp[1:]:
        QTest.mouseMove(c, p)
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wp[-1])
    shoot(app, win, args.out / "screenshot-protect.png")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
