"""Make docs/screenshot-video-open.png and docs/screenshot-video-propagate.png.

Writes a video of 40 consecutive CamVid val frames (0016E5_07959 on, 15 frames a second), opens
it in the studio (File > Open Video…: the rate dialog is the first shot), extracts every 4th frame,
gives the first extracted frame its ground truth as the annotator's finished mask, opens the next
frame (4 frames, 0.27 s later) and presses J with the default model selected: the second shot
shows the propagated, fused mask and the status-bar message. Run under a display:

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python docs/screenshot_video.py [--camvid DIR]
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

FIRST, N = 7959, 40


def write_video(camvid: Path, out: Path) -> None:
    import cv2

    w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 15, (480, 360))
    for i in range(N):
        w.write(cv2.imread(str(camvid / "val" / f"0016E5_{FIRST + 2 * i:05d}.png")))
    w.release()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", type=Path, default=ROOT.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    from PySide6.QtCore import QTimer

    from segstudio.core.imageio import read_label_png, write_label_png
    from segstudio.core.labels import camvid
    from segstudio.gui.video_open import RateDialog

    tmp = Path(tempfile.mkdtemp(prefix="segstudio-shot-"))
    video = tmp / "0016E5-drive.mp4"
    write_video(args.camvid, video)
    app, win = studio_window(tmp)
    wait(app, lambda: win.prediction.model_path is not None)

    def in_dialog():
        d = app.activeModalWidget()
        if isinstance(d, RateDialog):
            d.every.setValue(4)
            d.move(520, 300)
            shoot(app, win, args.out / "screenshot-video-open.png")
            d.accept()
        else:
            QTimer.singleShot(100, in_dialog)

    QTimer.singleShot(300, in_dialog)
    win.assist.video.open_video(video, labels="camvid")
    wait(app, lambda: win.project is not None)
    frames = win.project.images
    gt = read_label_png(args.camvid / "valannot" / f"0016E5_{FIRST:05d}.png")
    write_label_png(win.project.mask_path(frames[0]), gt, camvid())
    win.reload_masks()  # the finished frame's mask, as if the annotator had just saved it
    win.open_image(frames[1])
    win.open_image(frames[1])
    doc = win.current
    win.assist.propagate.act_one.trigger()
    wait(app, lambda: doc.history_length == 1)
    shoot(app, win, args.out / "screenshot-video-propagate.png")
    win.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
