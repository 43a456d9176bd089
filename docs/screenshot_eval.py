"""Make docs/screenshot-eval.png: the evaluation dialog on CamVid val.

The "predictions" are the ground truth degraded the way a weak model errs:
boundaries coarsened to an 8-pixel grid, thin classes (Pole, SignSymbol,
Fence, Bicyclist) partly absorbed by their neighbours, void filled. Run under
a display, e.g.

    xvfb-run -s "-screen 0 1280x900x24" python docs/screenshot_eval.py [--camvid DIR] [--out PNG]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segstudio.core.imageio import read_label_png, write_label_png  # noqa: E402
from segstudio.core.labels import preset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def degrade(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = gt.shape
    small = cv2.resize(gt, (w // 8, h // 8), interpolation=cv2.INTER_NEAREST)
    pred = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    # void has no prediction class: take Building
    pred[pred == 11] = 1
    for thin, into, share in ((2, 1, 0.5), (6, 2, 0.4), (7, 1, 0.6), (10, 9, 0.5), (9, 4, 0.3), (4, 3, 0.2)):
        blobs = cv2.resize((rng.random((h // 24 + 1, w // 24 + 1)) < share).astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
        pred[(pred == thin) & blobs] = into
    return pred


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot-eval.png")
    args = ap.parse_args()
    ls = preset("camvid")
    tmp = Path(tempfile.mkdtemp(prefix="eval-shot-"))
    preds = tmp / "predictions"
    preds.mkdir()
    rng = np.random.default_rng(0)
    for p in sorted((args.camvid / "valannot").glob("*.png")):
        write_label_png(preds / p.name, degrade(read_label_png(p), rng), ls)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from segstudio.gui.eval_dialog import EvalDialog

    app = QApplication.instance() or QApplication([])
    dlg = EvalDialog(None, args.camvid / "val", preds, ls, args.camvid / "valannot", None, lambda s: None)
    dlg.resize(1240, 860)
    dlg.move(0, 0)
    dlg.show()
    dlg.start()

    def shoot():
        if dlg.state == "running":
            QTimer.singleShot(200, shoot)
            return
        dlg.worst_table.selectRow(0)
        app.processEvents()
        raw = tmp / "shot.png"
        try:  # the X screen, as a user sees it
            geo = dlg.frameGeometry()
            subprocess.run(["import", "-window", "root", "-crop", f"{geo.width()}x{geo.height()}+{geo.x()}+{geo.y()}",
                            str(raw)], check=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            dlg.grab().save(str(raw))
        # palette PNG keeps the file small
        subprocess.run(["convert", str(raw), "+dither", "-colors", "256", "PNG8:" + str(args.out)], check=False)
        if not args.out.exists():
            dlg.grab().save(str(args.out))
        print(f"{args.out} ({args.out.stat().st_size // 1024} KB); mIoU {dlg.report['mean_iou']:.4f}")
        app.quit()

    QTimer.singleShot(500, shoot)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
