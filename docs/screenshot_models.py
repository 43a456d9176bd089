"""Make docs/screenshot-predict.png and docs/screenshot-train.png: the default model and training.

1. The bundled samples opened in the studio and predicted with the default model
   (fcn8s-lite0-camvid), the overlay on a frame.
2. "Train on My Annotations…" with its untouched defaults (FCN-8s on the ImageNet-pretrained
   Lite0 encoder, a time budget) on 20 annotated frames of one CamVid training sequence,
   shot mid-run: loss and validation-mIoU chart, progress bar, ETA. The run then finishes and
   the model's entry in the Model menu is printed.

Each shot is the X screen as a user sees it (`import`). Run under a display:

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python docs/screenshot_models.py [--camvid DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshot_assist import shoot, studio_window, wait  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--train-n", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=2.0)
    args = ap.parse_args()
    import os

    tmp = Path(tempfile.mkdtemp(prefix="segstudio-shot-"))
    os.environ["SEGSTUDIO_HOME"] = str(tmp / "data")  # the trained model goes to a temporary models folder
    samples = tmp / "samples"
    shutil.copytree(ROOT / "segstudio" / "data" / "samples", samples, ignore=shutil.ignore_patterns("*.md"))
    app, win = studio_window(tmp)

    # 1. The default model predicting the bundled samples.
    assert win.open_path(samples, labels="camvid")
    wait(app, lambda: win.prediction.model_path is not None)
    print("model:", win.prediction.model_path.name)
    win.predict_unlabelled()
    wait(app, lambda: not win.prediction.busy)
    win.open_stem("0016E5_08057")
    shoot(app, win, args.out / "screenshot-predict.png")

    # 2. Train on 20 annotated frames of sequence 0001TP with the dialog's defaults.
    proj = tmp / "street"
    (proj / "images").mkdir(parents=True)
    (proj / "masks").mkdir()
    frames = sorted((args.camvid / "train").glob("0001TP_*.png"))[: args.train_n]
    for p in frames:
        shutil.copy(p, proj / "images")
        shutil.copy(args.camvid / "trainannot" / p.name, proj / "masks")
    assert win.open_path(proj / "images", labels="camvid", masks=proj / "masks")
    win.act_train.trigger()
    from segstudio.gui.train_dialog import TrainDialog

    dlg = next(d for d in win.dialogs.open_dialogs if isinstance(d, TrainDialog))
    dlg.resize(620, 760)
    dlg.move(880, 40)
    dlg.minutes.setValue(args.minutes)
    dlg.start()
    wait(app, lambda: len(dlg.val_miou[0]) >= 3 or not dlg.running(), seconds=args.minutes * 60 + 120)
    wait(app, lambda: dlg.bar.value() >= 600 or not dlg.running(), seconds=args.minutes * 60 + 120)
    shoot(app, dlg, args.out / "screenshot-train.png")
    wait(app, lambda: not dlg.running(), seconds=args.minutes * 60 + 300)
    print("dialog:", dlg.status.text())
    print("Model menu:", [a.text() for a in win.model_menu.actions() if a.text()] if hasattr(win, "model_menu")
          else [name for name, _ in win.prediction.models])
    dlg.close()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
