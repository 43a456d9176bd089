"""Starting the studio: `run_app(args)` creates the QApplication and the main window.

Without a path it opens a copy of the bundled CamVid samples (in the user's
data folder, so edits never touch the installation) with the camvid label set
and their ground truth, and selects the default model if one is installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from segstudio import paths


def sample_folder() -> Path | None:
    """A writable copy of the bundled samples (made on first use), or None if none ship."""
    src = paths.samples_dir()
    if not src.is_dir():
        return None
    dst = paths.user_data_dir() / "samples"
    try:
        if not dst.is_dir():
            shutil.copytree(src, dst)
        return dst
    except OSError:
        return src


def run_app(args) -> int:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("segstudio")
    app.setOrganizationName("segstudio")
    win = MainWindow()
    path = getattr(args, "path", None)
    labels = getattr(args, "labels", None)
    masks = getattr(args, "masks", None)
    model = getattr(args, "model", None)
    if model:
        win.prediction.requested = model
    if path:
        win.open_path(path, labels=labels, masks=masks)
    else:
        samples = sample_folder()
        if samples is not None:
            from segstudio.core.project import PROJECT_FILE

            remembered = (samples / PROJECT_FILE).is_file()
            win.open_path(samples, labels=labels or (None if remembered else "camvid"), masks=masks)
            if win.gt_dir is None and (samples / "ground-truth").is_dir():
                win.set_gt_dir(samples / "ground-truth")
    _close_on_terminate(app)
    win.show()
    return app.exec()


def _close_on_terminate(app) -> None:
    """SIGTERM / SIGINT close the windows normally, so unsaved edits are saved first."""
    import signal

    from PySide6.QtCore import QTimer

    def handler(signum, frame):
        app.closeAllWindows()
        app.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or unsupported here
            return
    # Python runs signal handlers only between bytecodes: wake it up now and then.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(300)
