"""Starting the studio: `run_app(args)` creates the QApplication and the main window.

Without a path it opens a copy of the bundled CamVid samples (in the user's
data folder, so edits never touch the installation) with the camvid label set
and their ground truth, and selects the default model if one is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from segstudio import paths
from segstudio.core.video_files import is_video_file


def sample_folder() -> Path | None:
    """A writable copy of the bundled samples (made on first use), or None if none ship."""
    src = paths.samples_dir()
    if not src.is_dir():
        return None
    dst = paths.user_data_dir() / "samples"
    try:
        if not dst.is_dir():
            import shutil  # after the first paint (shutil also loads bz2 and lzma)

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
    win = MainWindow(scan_models=False)
    from . import settings_store

    if settings_store.problem:  # a damaged settings file: the defaults are used; say so once
        win.statusBar().showMessage(f"Settings: {settings_store.problem}", 20000)
    model = getattr(args, "model", None)
    if model:
        win.prediction.requested = model
    _close_on_terminate(app)
    # The window is shown first; the folder (or the samples' copy) opens and the model scan (which
    # imports torch on a worker thread, contending for the GIL) starts once it has been painted.
    _after_first_paint(win, lambda: _open_start_folder(win, args))
    win.show()
    return app.exec()


def _open_start_folder(win, args) -> None:
    path = getattr(args, "path", None)
    labels = getattr(args, "labels", None)
    masks = getattr(args, "masks", None)
    if path and is_video_file(path):  # frames extracted first (gui/video_open.py)
        win.assist.video.open_video(path, labels=labels)
    elif path:
        win.open_path(path, labels=labels, masks=masks)
    else:
        samples = sample_folder()
        if samples is not None:
            from segstudio.core.project import PROJECT_FILE

            remembered = (samples / PROJECT_FILE).is_file()
            win.open_path(samples, labels=labels or (None if remembered else "camvid"), masks=masks)
            if win.gt_dir is None and (samples / "ground-truth").is_dir():
                win.set_gt_dir(samples / "ground-truth")
    win.prediction.scan()


def _after_first_paint(win, then, fallback_ms: int = 1000) -> None:
    """Call `then()` once, right after the window's first paint (or after `fallback_ms` if none comes,
    e.g. when it starts minimised)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, fire)
            return False

    def fire():
        if getattr(win, "_started", False):
            return
        win._started = True
        win.removeEventFilter(probe)
        if win.isVisible():  # closed before it was painted (or before the fallback): nothing to open
            then()

    probe = FirstPaint(win)
    win.installEventFilter(probe)
    QTimer.singleShot(fallback_ms, fire)


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
